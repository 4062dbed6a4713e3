"""The worker runtime: polling, validation, DLQ, publish, commit, metrics."""

from shared.runtime.errors import Backpressure, BadMessage, FatalError, LadleError, UserError
from shared.runtime.worker import BatchResult, Failed, Output, Record, Worker

__all__ = [
    "Backpressure",
    "BadMessage",
    "BatchResult",
    "FatalError",
    "Failed",
    "LadleError",
    "Output",
    "Record",
    "UserError",
    "Worker",
]
