"""The bridge's small exception hierarchy.

Every error a user can meet says what went wrong and what to do, and carries
the process exit status the CLI uses for it. Nothing here ever holds the token.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error the CLI turns into a one-line message."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(BridgeError):
    """A setting is missing or invalid."""

    exit_code = 2


class MappingInvalid(BridgeError):
    """The mapping files have errors; nothing was changed."""

    exit_code = 3


class LockHeld(BridgeError):
    """Another job of the same kind is running."""

    exit_code = 75  # EX_TEMPFAIL: cron may simply try again next slot


# --- upstream -------------------------------------------------------------


class UpstreamError(BridgeError):
    """Something went wrong talking to the LAPOR! API."""

    exit_code = 4


class Unauthorized(UpstreamError):
    """401: the token is wrong or expired. Fatal for the run, never retried."""

    exit_code = 5


class CursorExpired(UpstreamError):
    """410: a listing cursor expired; restart the window from the checkpoint."""


class RateLimited(UpstreamError):
    """429 (or 503) whose Retry-After is longer than the run may wait."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(UpstreamError):
    """The server could not be reached or kept failing after bounded retries.

    `maybe_sent` tells whether a request may have been applied by the server
    (read timeout, connection dropped after sending, 5xx) or surely was not
    (connection refused, DNS failure, connect timeout).
    """

    def __init__(
        self, message: str, *, maybe_sent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent
        self.retry_after = retry_after


class Rejected(UpstreamError):
    """A final refusal (403, 404, 409, 422, other 4xx): do not retry."""

    def __init__(self, message: str, *, status: int, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []


class ContractViolation(Unavailable):
    """A 2xx answer that breaks the API contract (not JSON, required keys missing).

    For a POST the request was applied (`maybe_sent` is True): reconcile, never re-post.
    """
