"""The local stream relay survives moto's rollback of a cancelled transaction (issue 7, finding 5).

moto undoes a cancelled TransactWriteItems by swapping in a copy of the table taken before it, stream
shard included: a reader holding an iterator on the old shard sees nothing new, and sees the rolled-back
writes as if they had happened.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.aws import REGION
from local.lambda_runtime import FakeLambdaContext
from local.streams import StreamPump
from tests.contract.schemas import example
from tests.harness import Bridge, security_event

LISTING = "/public-api/resources/security-events/v2.0"


def relayed_event_ids(bridge: Bridge) -> list[str]:
    return [m["body"]["eventId"] for m in bridge.deliveries.all() if m["topic"] == "security-events"]


def relayed_tech_infos(bridge: Bridge) -> list[str]:
    return [m["body"]["data"].get("techInfo", "") for m in bridge.deliveries.all() if m["topic"] == "security-events"]


def listed_count(bridge: Bridge, charge_point: int) -> int:
    return len(bridge.request("GET", f"{LISTING}?filter[chargePoint]={charge_point}&per_page=100").json["data"])


def notification(tech_info: str, charge_point: int = 1187) -> bytes:
    body = example("notification_security_event")
    body.update(chargePointId=charge_point, techInfo=tech_info)
    return json.dumps(body).encode()


def test_the_relay_goes_on_after_a_duplicate_batch_push(bridge: Bridge) -> None:
    batch = {"events": [security_event(tech_info="first"), security_event("ResetOrReboot", tech_info="second")]}
    assert bridge.push(1187, batch, webhook_id="same").status == 202
    assert bridge.relay() == 2

    assert bridge.push(1187, batch, webhook_id="same").status in {200, 202}
    assert bridge.push(1187, security_event(tech_info="after the repeat")).status == 202

    assert bridge.relay() == 1
    assert sorted(relayed_tech_infos(bridge)) == ["after the repeat", "first", "second"]
    assert listed_count(bridge, 1187) == 3


def test_the_relay_goes_on_after_a_repeated_ampeco_notification(bridge: Bridge) -> None:
    raw = notification("door opened")
    assert bridge.notify(raw).status == 202
    assert bridge.relay() == 1

    assert bridge.notify(raw).status in {200, 202}
    assert bridge.notify(notification("door opened again")).status == 202

    assert bridge.relay() == 1
    assert sorted(relayed_tech_infos(bridge)) == ["door opened", "door opened again"]


def test_every_event_is_relayed_exactly_once_across_many_rollbacks(bridge: Bridge) -> None:
    for round_ in range(4):
        raw = notification(f"notified {round_}", charge_point=900)
        batch = {"events": [security_event(tech_info=f"pushed {round_}")]}
        assert bridge.notify(raw).status == 202
        assert bridge.push(901, batch, webhook_id=f"batch-{round_}").status == 202
        assert bridge.notify(raw).status in {200, 202}  # rolled back
        assert bridge.push(901, batch, webhook_id=f"batch-{round_}").status in {200, 202}  # rolled back
        if round_ % 2:
            bridge.relay()  # read between rollbacks on odd rounds, after several on even ones

    bridge.relay()
    ids = relayed_event_ids(bridge)
    assert len(ids) == 8
    assert len(set(ids)) == 8
    assert bridge.relay() == 0


def test_a_rollback_is_logged_once(bridge: Bridge, caplog: pytest.LogCaptureFixture) -> None:
    # A repeated batch push is a cancelled transaction (an AMPECO notification is one put, never rolled back).
    batch = {"events": [security_event(tech_info="logged"), security_event("ResetOrReboot", tech_info="too")]}
    assert bridge.push(1187, batch, webhook_id="logged").status == 202
    bridge.relay()
    caplog.set_level(logging.INFO, logger="local.streams")

    assert bridge.push(1187, batch, webhook_id="logged").status in {200, 202}
    bridge.relay()
    bridge.relay()

    replaced = [r for r in caplog.records if r.name == "local.streams" and "replaced" in r.getMessage()]
    assert len(replaced) == 1
    assert bridge.stack.refs["SecurityEventsTable"] in replaced[0].getMessage()


# ---------------------------------------------------------------------- the pump alone
@dataclass
class Recorder:
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, _function: str, event: dict[str, Any], _context: FakeLambdaContext) -> None:
        with self.lock:
            self.calls.extend(event["Records"])

    def keys(self) -> list[str]:
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in self.calls]


def _event_item(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": "1"}, "kind": {"S": "securityEvent"}}


def test_a_rolled_back_write_is_never_delivered(bridge: Bridge) -> None:
    table = bridge.stack.refs["SecurityEventsTable"]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    recorder = Recorder()
    pump = StreamPump(bridge.stack, bridge.stack.template, recorder)
    dynamodb.put_item(TableName=table, Item=_event_item("before"))
    pump.drain()

    # The Put is applied, then the failed check cancels the transaction: moto swaps the table back.
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": _event_item("rolled back")}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "before"}, "sk": {"N": "1"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    dynamodb.put_item(TableName=table, Item=_event_item(f"after {uuid.uuid4().hex}"))
    pump.drain()

    assert recorder.keys()[0] == "before"
    assert len(recorder.keys()) == 2
    assert recorder.keys()[1].startswith("after ")
