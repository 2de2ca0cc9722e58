"""Webhook signatures: a correct one always verifies, any change fails, and nothing but Unauthenticated escapes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import assume, given

from bridge.errors import Unauthenticated
from bridge.signatures import verify_ampeco_signature, verify_standard_webhook
from tests.fuzz.budget import scaled
from tests.harness import sign_ampeco, sign_push

NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)
TOLERANCE = 300
HEADER_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")

master_secrets = st.binary(min_size=1, max_size=64).map(lambda key: "whsec_" + base64.b64encode(key).decode())
webhook_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64)
utf8_bodies = st.text(max_size=500).map(str.encode)
in_window = st.integers(-TOLERANCE, TOLERANCE).map(lambda skew: int(NOW.timestamp()) + skew)
tokens = st.text(min_size=1, max_size=64)


def verify_push(body: bytes, headers: dict[str, str], secrets: list[str]) -> str:
    return verify_standard_webhook(body, headers, secrets, tolerance_seconds=TOLERANCE, now=NOW)


@given(utf8_bodies, webhook_ids, master_secrets, in_window, st.lists(master_secrets, max_size=3))
@scaled(2)
def test_a_correct_standard_webhook_signature_verifies(
    body: bytes, webhook_id: str, secret: str, sent_at: int, others: list[str]
) -> None:
    headers = sign_push(body, webhook_id, secret, sent_at)

    assert verify_push(body, headers, [*others, secret]) == webhook_id


@st.composite
def changed_push(draw: st.DrawFn) -> tuple[bytes, dict[str, str], str]:
    """A signed push and one thing about it changed afterwards: body, id, timestamp or signature."""
    body, webhook_id, secret, sent_at = draw(utf8_bodies), draw(webhook_ids), draw(master_secrets), draw(in_window)
    headers = sign_push(body, webhook_id, secret, sent_at)
    change = draw(st.sampled_from(["body", "id", "timestamp", "signature"]))
    if change == "body":
        other = draw(st.binary(max_size=500))
        assume(other != body)
        return other, headers, secret
    if change == "id":
        other_id = draw(webhook_ids)
        assume(other_id != webhook_id)
        return body, {**headers, "webhook-id": other_id}, secret
    if change == "timestamp":
        other_at = draw(in_window)
        assume(other_at != sent_at)
        return body, {**headers, "webhook-timestamp": str(other_at)}, secret
    signature = draw(st.binary(min_size=32, max_size=32).map(lambda raw: "v1," + base64.b64encode(raw).decode()))
    assume(signature != headers["webhook-signature"])
    return body, {**headers, "webhook-signature": signature}, secret


@given(changed_push())
@scaled(2)
def test_any_change_to_a_signed_push_fails(case: tuple[bytes, dict[str, str], str]) -> None:
    body, headers, secret = case

    with pytest.raises(Unauthenticated):
        verify_push(body, headers, [secret])


@given(
    st.binary(max_size=300),
    st.dictionaries(st.sampled_from([*HEADER_NAMES, "webhook-other"]), st.text(max_size=80)),
    st.lists(st.text(max_size=60) | master_secrets, max_size=3),
)
@scaled(2)
def test_garbage_push_headers_and_secrets_raise_only_unauthenticated(
    body: bytes, headers: dict[str, str], secrets: list[str]
) -> None:
    with pytest.raises(Unauthenticated):
        verify_push(body, headers, secrets)


@given(st.binary(max_size=500), tokens, st.sampled_from(["hex", "HEX", "base64"]))
@scaled(2)
def test_a_correct_ampeco_signature_verifies_as_hex_or_base64(body: bytes, token: str, encoding: str) -> None:
    signature = sign_ampeco(body, token, "base64" if encoding == "base64" else "hex")

    verify_ampeco_signature(body, signature.upper() if encoding == "HEX" else signature, token)


@given(st.binary(max_size=500), tokens, st.data())
@scaled(2)
def test_any_change_to_a_signed_notification_fails(body: bytes, token: str, data: Any) -> None:
    signature = sign_ampeco(body, token)
    if data.draw(st.booleans(), label="change the body"):
        other = data.draw(st.binary(max_size=500), label="other body")
        assume(other != body)
        body = other
    else:
        other_signature = data.draw(st.binary(min_size=32, max_size=32).map(bytes.hex), label="other signature")
        assume(other_signature != signature)
        signature = other_signature

    with pytest.raises(Unauthenticated):
        verify_ampeco_signature(body, signature, token)


@given(st.binary(max_size=300), st.none() | st.text(max_size=120), tokens)
@scaled(2)
def test_garbage_ampeco_signatures_raise_only_unauthenticated(body: bytes, signature: str | None, token: str) -> None:
    with pytest.raises(Unauthenticated):
        verify_ampeco_signature(body, signature, token)
