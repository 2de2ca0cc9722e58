"""Webhook signatures, on the raw bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from bridge.errors import Unauthenticated
from bridge.signatures import verify_ampeco_signature, verify_standard_webhook
from tests.harness import OLD_WEBHOOK_SECRET, WEBHOOK_SECRET, sign_push

NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)
BODY = b'{"type":"FirmwareUpdated","timestamp":"2026-11-25T10:00:00Z"}'


def headers(secret: str = WEBHOOK_SECRET, at: int = int(NOW.timestamp())) -> dict[str, str]:
    return sign_push(BODY, "msg_1", secret, at)


def verify(h: dict[str, str], secrets: list[str] | None = None, tolerance: int = 300) -> str:
    return verify_standard_webhook(BODY, h, secrets or [WEBHOOK_SECRET], tolerance_seconds=tolerance, now=NOW)


def test_valid_signature_returns_the_webhook_id() -> None:
    assert verify(headers()) == "msg_1"


def test_any_active_secret_verifies() -> None:
    assert verify(headers(OLD_WEBHOOK_SECRET), [WEBHOOK_SECRET, OLD_WEBHOOK_SECRET]) == "msg_1"


def test_a_malformed_configured_secret_does_not_hide_a_valid_one() -> None:
    assert verify(headers(), ["whsec_!!!", WEBHOOK_SECRET]) == "msg_1"


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamps_outside_the_window_fail_both_ways(skew: int) -> None:
    with pytest.raises(Unauthenticated):
        verify(headers(at=int(NOW.timestamp()) + skew))


def test_the_window_is_configurable_beyond_the_library_default() -> None:
    assert verify(headers(at=int(NOW.timestamp()) - 900), tolerance=1000) == "msg_1"


def test_ampeco_hex_and_base64_signatures() -> None:
    digest = hmac.new(b"token", BODY, hashlib.sha256).digest()
    verify_ampeco_signature(BODY, digest.hex(), "token")
    verify_ampeco_signature(BODY, digest.hex().upper(), "token")
    verify_ampeco_signature(BODY, base64.b64encode(digest).decode(), "token")
    for bad in (None, "", digest.hex()[:-2], "é", base64.b64encode(digest[:-1]).decode()):
        with pytest.raises(Unauthenticated):
            verify_ampeco_signature(BODY, bad, "token")
