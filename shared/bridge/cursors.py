"""Signed pagination cursors, bound to the filters they were issued for."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.errors import InvalidInput


def _bad() -> InvalidInput:
    return InvalidInput("The given data was invalid.", errors={"cursor": ["The cursor is invalid."]})


def scope_of(filters: Mapping[str, Any]) -> str:
    """A short fingerprint of a listing's filters: a cursor is valid only for the same filters."""
    canonical = json.dumps({k: v for k, v in filters.items() if v is not None}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode(secret: str, scope: str, position: Mapping[str, Any]) -> str:
    """A cursor: the position, the scope, and an HMAC over both."""
    payload = _b64(json.dumps({"s": scope, "p": dict(position)}, separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(secret, payload))}"


def decode(secrets: Sequence[str], scope: str, cursor: str) -> dict[str, Any]:
    """The position in a cursor signed by any of `secrets` for this scope; anything else is 422."""
    payload, _, signature = cursor.partition(".")
    try:
        offered = _unb64(signature)
        valid = any(hmac.compare_digest(_mac(secret, payload), offered) for secret in secrets)
        content = json.loads(_unb64(payload)) if valid else None
    except (ValueError, binascii.Error):
        raise _bad() from None
    if not isinstance(content, dict) or content.get("s") != scope or not isinstance(content.get("p"), dict):
        raise _bad()
    return dict(content["p"])


def _mac(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
