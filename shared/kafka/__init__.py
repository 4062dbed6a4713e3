"""Kafka clients and the local broker."""
