"""The application: the `ladle` command, the stack supervisor, reconciliation, the demo.

It stands on everything below it (workers, services, shared, topics, schemas); nothing
below imports it (`make lint` enforces the layers).
"""
