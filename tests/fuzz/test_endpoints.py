"""Generated requests through the real handlers: never a 5xx, and a signed AMPECO notification is always 2xx.

One moto stack serves all of a test's examples (the state they leave behind is part of the fuzz).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pydantic_core
from hypothesis import given

from tests.fuzz.budget import scaled
from tests.fuzz.tally import TALLY
from tests.fuzz.traffic import (
    MAX_BODY,
    PUSHES,
    START_ON_CHARGE_POINT,
    START_ON_EVSE,
    Case,
    notifications,
    pushes,
    reads,
    send,
    starts,
)
from tests.harness import Bridge


def check(bridge: Bridge, case: Case) -> None:
    answer = send(bridge, case)
    TALLY.add(case.endpoint, case.how, answer.status)
    assert answer.status < 500, f"{answer.status} {answer.text[:500]}"
    assert "Traceback" not in answer.text
    if case.must_be_acknowledged:
        assert 200 <= answer.status < 300, answer.text[:500]
    if case.method == "POST" and len(case.body or b"") > MAX_BODY:
        assert answer.status in (404, 413)  # 404: a path id the router does not take, before any body
    if case.endpoint in (START_ON_CHARGE_POINT, START_ON_EVSE, PUSHES) and 200 <= answer.status < 300:
        assert portable(case.body or b"{}"), "accepted a body that is not portable JSON"


def portable(body: bytes) -> bool:
    """JSON every reader takes, judged by pydantic-core (not the bridge's reader): no NaN, no infinity, no
    lone surrogate (no body at all is a valid start)."""
    if not body.strip():
        return True
    try:
        document = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError:
        return False
    return not any(isinstance(value, float) and math.isinf(value) for value in leaves(document))


def leaves(document: Any) -> Iterator[Any]:
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
        else:
            yield node


@given(case=starts())
@scaled(2)
def test_generated_starts_never_get_a_5xx(bridge: Bridge, case: Case) -> None:
    check(bridge, case)


@given(case=notifications())
@scaled(2)
def test_generated_notifications_never_get_a_5xx_and_signed_ones_are_acknowledged(bridge: Bridge, case: Case) -> None:
    check(bridge, case)


@given(case=pushes())
@scaled(2)
def test_generated_pushes_never_get_a_5xx(bridge: Bridge, case: Case) -> None:
    check(bridge, case)


@given(case=reads())
@scaled(2.5)
def test_generated_reads_never_get_a_5xx(bridge: Bridge, case: Case) -> None:
    check(bridge, case)
