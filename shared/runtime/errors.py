"""Handler outcomes, as typed exceptions under one base class."""

from __future__ import annotations


class LadleError(Exception):
    """Base of every error Ladle raises on purpose."""


class BadMessage(LadleError):
    """This one message cannot be processed; it goes to the DLQ and the partition moves on."""


class Backpressure(LadleError):
    """A downstream store is saturated: pause the partitions and retry the batch later."""

    def __init__(self, message: str = "downstream saturated", retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(LadleError):
    """The process cannot go on (store lost, engine dead): crash and let the supervisor restart it."""


class UserError(LadleError):
    """A mistake a user can fix (bad flag, missing file); printed as one line, no traceback."""
