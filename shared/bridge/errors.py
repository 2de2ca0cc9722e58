"""The bridge's one error hierarchy; `bridge.http_errors` is the only place that maps it to HTTP."""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose.

    `reason` names a refusal (metric `RequestsRefused` by reason, one log line each); None: not a refusal.
    """

    status = 500
    error_code: str | None = None
    reason: str | None = None

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class MalformedJson(BridgeError):
    """The body is not JSON."""

    status = 400
    reason = "malformed_json"


class Unauthenticated(BridgeError):
    """A missing or wrong API key, signature or tenant; `reason` says which (never the values involved)."""

    status = 401

    def __init__(self, message: str, *, reason: str = "bad_signature") -> None:
        super().__init__(message)
        self.reason = reason


class Forbidden(BridgeError):
    """An API key that is present but not accepted."""

    status = 403
    reason = "forbidden"


class NotFound(BridgeError):
    """An unknown id or path."""

    status = 404


class MethodNotAllowed(BridgeError):
    """The path exists, the method does not."""

    status = 405
    reason = "method_not_allowed"


class Conflict(BridgeError):
    """The same request is still in flight."""

    status = 409


class PayloadTooLarge(BridgeError):
    """The body is over the size cap."""

    status = 413
    reason = "oversize"


class InvalidInput(BridgeError):
    """The request is well-formed but not acceptable; `errors` names the fields."""

    status = 422
    reason = "invalid_body"


class RetryableError(BridgeError):
    """Nothing took effect; the caller may retry after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Throttled(RetryableError):
    """A dependency throttled us before any effect."""

    status = 429


class StorageUnavailable(RetryableError):
    """Storage failed; `uncertain` when the write may have taken effect all the same (its answer was lost)."""

    status = 503

    def __init__(self, message: str, *, retry_after: int = 1, uncertain: bool = False) -> None:
        super().__init__(message, retry_after=retry_after)
        self.uncertain = uncertain


class NotConfigured(RetryableError):
    """A secret the bridge needs is unset or a placeholder: nothing is verified or sent until it is set."""

    status = 503
    reason = "not_configured"

    def __init__(self, setting: str, expected: str) -> None:
        super().__init__(f"The bridge is not configured: set the {setting} secret ({expected}).", retry_after=60)
        self.setting = setting


class UpstreamError(BridgeError):
    """The AMPECO tenant failed us; `error_code` is one of the UPSTREAM_* codes."""

    status = 502

    def __init__(self, message: str, *, error_code: str, status: int = 502) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.status = status
