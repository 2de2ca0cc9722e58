"""The strict JSON reader, the input models and the notification record, on arbitrary bytes and documents."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import hypothesis.strategies as st
import pydantic_core
import pytest
from hypothesis import given
from pydantic import BaseModel, ValidationError

from bridge.errors import MalformedJson
from bridge.models.notifications import Delivery, NotificationStatus
from bridge.models.security_events import PushedSecurityEvent, PushedSecurityEventBatch, SecurityEventNotification
from bridge.models.sessions import SessionStartStopNotification, SessionUpdateNotification
from bridge.models.starts import StartRequest
from bridge.notifications import classify
from bridge.storage.notifications import notification_item
from bridge.validation import MAX_DEPTH, parse_json
from tests.fuzz.budget import scaled
from tests.fuzz.documents import json_documents, json_texts

MAX_BODY = 256 * 1024
DYNAMODB_ITEM_LIMIT = 400 * 1024
INPUT_MODELS: list[type[BaseModel]] = [
    StartRequest,
    PushedSecurityEvent,
    PushedSecurityEventBatch,
    SecurityEventNotification,
    SessionUpdateNotification,
    SessionStartStopNotification,
]

any_bytes = st.binary(max_size=400) | json_texts()


def depth(document: Any) -> int:
    if isinstance(document, dict):
        return 1 + max(map(depth, document.values()), default=0)
    if isinstance(document, list):
        return 1 + max(map(depth, document), default=0)
    return 0


@given(any_bytes)
@scaled(4)
def test_the_strict_reader_gives_portable_json_or_malformed_json(body: bytes) -> None:
    try:
        document = parse_json(body)
    except MalformedJson:
        return
    # What passes is JSON any UTF-8 writer takes (no NaN, no lone surrogate), and pydantic-core reads it alike.
    json.dumps(document, allow_nan=False, ensure_ascii=False).encode("utf-8")
    assert depth(document) <= MAX_DEPTH
    assert pydantic_core.from_json(body, allow_inf_nan=False) == document


@given(any_bytes, st.sampled_from(INPUT_MODELS))
@scaled(4)
def test_input_models_raise_nothing_but_validation_errors_on_raw_bytes(body: bytes, model: type[BaseModel]) -> None:
    with contextlib.suppress(ValidationError):
        model.model_validate_json(body)


@given(json_documents(), st.sampled_from(INPUT_MODELS))
@scaled(3)
def test_input_models_raise_nothing_but_validation_errors_on_documents(document: Any, model: type[BaseModel]) -> None:
    with contextlib.suppress(ValidationError):
        model.model_validate(document)


@given(any_bytes)
@scaled(3)
def test_a_notification_body_always_has_a_kind_or_a_reason(body: bytes) -> None:
    kind, reason = classify(body)

    if kind is None:
        assert isinstance(reason, str)
        assert reason
    else:
        assert reason is None
        assert 0 < len(kind) <= 100
        assert kind.isprintable()


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's count: attribute names plus values (strings as UTF-8, numbers about one byte a digit)."""
    total = 0
    for name, value in item.items():
        [(kind, raw)] = value.items()
        total += len(name.encode()) + (len(raw.encode("utf-8")) if kind == "S" else len(str(raw)))
    return total


fills = st.sampled_from([b"x", "\u00e9".encode(), "\U0001f600".encode(), b"\xff", b"\\ud800"])
odd_text = st.text(max_size=30) | st.builds(
    lambda n, c: c * n, st.integers(0, 300_000), st.sampled_from("N\ud800\u00e9")
)


@given(st.integers(0, MAX_BODY), fills, odd_text, odd_text, st.none() | odd_text, st.none() | odd_text)
@scaled(0.5)
def test_a_notification_record_always_fits_one_dynamodb_item(
    size: int, fill: bytes, kind: str, reason: str, signed_at: str | None, tenant: str | None
) -> None:
    body = (fill * (size // len(fill) + 1))[:size]
    delivery = Delivery(body, "f" * 64, datetime(2026, 11, 25, tzinfo=UTC), signed_at, tenant)

    item = notification_item(delivery.record(kind, NotificationStatus.QUARANTINED, reason))

    assert item_size(item) < DYNAMODB_ITEM_LIMIT
    stored = item["body"]["S"]
    kept = base64.b64decode(stored) if item["bodyEncoding"]["S"] == "base64" else stored.encode("utf-8")
    assert kept == body


def test_a_body_at_the_cap_that_is_not_utf8_still_fits() -> None:
    delivery = Delivery(b"\xff" * MAX_BODY, "f" * 64, datetime(2026, 11, 25, tzinfo=UTC), "t" * 10_000, "x" * 10_000)

    item = notification_item(delivery.record("N" * 300_000, NotificationStatus.QUARANTINED, "r" * 300_000))

    assert item_size(item) < DYNAMODB_ITEM_LIMIT


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_numbers_json_does_not_have_are_malformed(token: str) -> None:
    with pytest.raises(MalformedJson):
        parse_json(f'{{"a": [1, {token}]}}'.encode())
