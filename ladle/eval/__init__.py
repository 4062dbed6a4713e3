"""Evaluation: scoring Ladle's outputs against labelled data."""
