"""`make load`'s own logic, without a server: what it sends, how it signs, what it calls a failure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from datetime import datetime

from local.load import Delivered, Stored, kind_failures
from local.load_traffic import NOTIFICATION, PUSH, REPEAT, START, Plan, build_workload, push_headers, push_secret

MASTER = "whsec_" + base64.b64encode(b"load-test-master-secret").decode()


def plan(**overrides: float) -> Plan:
    values: dict[str, float] = dict(pushes=40, notifications=30, redelivery_share=0.1, starts=20, concurrency=4)
    values.update(overrides)
    return Plan(send_seconds=60, relay_seconds=60, **values)  # type: ignore[arg-type]


def test_the_workload_has_the_planned_counts_and_every_repeat_follows_its_original() -> None:
    workload = build_workload(plan())

    kinds = Counter(job.kind for job in workload.jobs)
    assert kinds == {PUSH: 40, NOTIFICATION: 30, REPEAT: 3, START: 20}
    first_seen = {}
    for position, job in enumerate(workload.jobs):
        if job.kind == NOTIFICATION:
            first_seen[job.body] = position
        if job.kind == REPEAT:
            assert first_seen[job.body] < position  # same bytes, sent after the original


def test_every_event_is_distinct_and_inside_the_listing_window() -> None:
    workload = build_workload(plan())
    events = [json.loads(job.body) for job in workload.jobs if job.kind in {PUSH, NOTIFICATION}]

    assert len({event["techInfo"] for event in events}) == len(events) == 70
    start, end = workload.window
    assert all(start <= datetime.fromisoformat(event["timestamp"]) <= end for event in events)


def test_a_derived_push_secret_follows_the_contract_formula() -> None:
    key = base64.b64decode(MASTER.removeprefix("whsec_"))
    expected = "whsec_" + base64.b64encode(hmac.new(key, b"charge-point:1187", hashlib.sha256).digest()).decode()

    assert push_secret(f"{MASTER} whsec_b2xk", 1187) == expected


def test_push_headers_sign_id_timestamp_and_body() -> None:
    headers = push_headers(b'{"a":1}', MASTER)

    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + b'{"a":1}'
    key = base64.b64decode(MASTER.removeprefix("whsec_"))
    assert (
        headers["webhook-signature"]
        == "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    )


def test_a_clean_kind_has_no_failures() -> None:
    relayed = Delivered(keys={1, 2}, messages=2, event_ids=Counter({"a": 1, "b": 1}))

    assert kind_failures(PUSH, Counter({202: 2}), 0, 2, Stored(keys={1, 2}), relayed) == []


def test_lost_doubled_and_refused_deliveries_are_failures() -> None:
    relayed = Delivered(keys={1, 9}, messages=3, event_ids=Counter({"a": 2, "b": 1}))

    failures = kind_failures(PUSH, Counter({202: 2, 503: 1}), 1, 4, Stored(keys={1, 2}), relayed)

    assert any("other than 2xx" in failure for failure in failures)
    assert any("1 connection errors" in failure for failure in failures)
    assert any("2 stored, 3 accepted" in failure for failure in failures)
    assert any("1 stored but not delivered" in failure for failure in failures)
    assert any("1 delivered but never stored" in failure for failure in failures)
    assert any("duplicate deliveries" in failure for failure in failures)
