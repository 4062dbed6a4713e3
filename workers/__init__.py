"""Kafka workers, one package per stage. Each exposes `build()` returning (worker, settings).

Workers do not import one another (`make lint`); the application picks one by name.
"""
