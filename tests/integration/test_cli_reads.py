"""`bridge` read commands against a local run: what an operator looks up at 3 a.m., and offline verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from bridge.cli import main
from local.aws import REGION
from tests.harness import AMPECO_TOKEN, Bridge, push_secret, security_event, sign_ampeco, sign_push

CP_START = "/public-api/actions/charge-point/v1.0/{cp}/start/{evse}"


def bridge_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()  # the handlers' own output (metrics) so far is not the command's
    status = main([*argv, "--json"])
    return status, json.loads(capsys.readouterr().out)


def test_a_failed_start_found_by_charge_point_and_error_code_then_shown(
    bridge: Bridge, local_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for tag in ("FLEET-1", "SIM:PAYMENT_NO_FUNDS", "SIM:HTTP_503"):
        bridge.request("POST", CP_START.format(cp=1187, evse=2), body={"idTag": tag})
    bridge.request("POST", CP_START.format(cp=1188, evse=2), body={"idTag": "SIM:PAYMENT_NO_FUNDS"})

    status, rows = bridge_cli(
        capsys, "--local", local_run, "attempts", "list", "--charge-point", "1187", "--error-code", "PAYMENT_NO_FUNDS"
    )

    assert status == 0
    [row] = rows
    assert (row["chargePoint"], row["outcome"], row["errorCode"]) == (1187, "rejected", "PAYMENT_NO_FUNDS")
    status, [shown] = bridge_cli(capsys, "--local", local_run, "attempts", "get", row["attemptId"])
    assert (status, shown["attemptId"], json.loads(shown["request"])) == (
        0,
        row["attemptId"],
        {"idTag": "SIM:PAYMENT_NO_FUNDS"},
    )
    status, everything = bridge_cli(capsys, "--local", local_run, "attempts", "list", "--charge-point", "1187")
    assert sorted(r["outcome"] for r in everything) == ["failed", "rejected", "started"]
    assert bridge_cli(capsys, "--local", local_run, "attempts", "get", "no-such-attempt") == (1, [])


def test_a_quarantined_notification_is_listed_and_shown_with_its_reason(
    bridge: Bridge, local_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {"notification": "SecurityEventNotification", "chargePointId": "seven", "type": "ResetOrReboot"}
    assert bridge.notify(bad).status == 202
    assert bridge.notify({"notification": "SessionUpdateNotification"}).status == 202
    good = {
        "notification": "SecurityEventNotification",
        "chargePointId": 7,
        "type": "ResetOrReboot",
        "timestamp": "2026-11-30T10:00:00Z",
        "critical": True,
    }
    assert bridge.notify(good).status == 202

    status, rows = bridge_cli(capsys, "--local", local_run, "notifications", "quarantined")

    assert status == 0
    assert sorted(r["notification"] for r in rows) == ["SecurityEventNotification", "SessionUpdateNotification"]
    security = next(r for r in rows if r["notification"] == "SecurityEventNotification")
    assert "chargePointId" in security["reason"]
    status, [record] = bridge_cli(capsys, "--local", local_run, "notifications", "show", security["fingerprint"])
    assert (status, record["status"], json.loads(record["body"])) == (0, "quarantined", bad)


def test_events_and_sessions_are_listed_and_read(
    bridge: Bridge, local_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pushed = bridge.push(31, security_event("TamperDetectionActivated", tech_info="lid"))
    bridge.push(32, security_event("ResetOrReboot"))

    status, rows = bridge_cli(capsys, "--local", local_run, "events", "list", "--charge-point", "31")
    assert (status, [r["chargePoint"] for r in rows]) == (0, [31])
    status, [event] = bridge_cli(capsys, "--local", local_run, "events", "get", str(pushed.json["ids"][0]))
    assert event["techInfo"] == "lid"
    status, sessions = bridge_cli(capsys, "--local", local_run, "sessions", "list")
    assert (status, sessions) == (0, [])


def test_the_table_for_people_has_a_header_and_a_row_per_item(
    bridge: Bridge, local_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge.push(41, security_event("MemoryExhaustion"))
    capsys.readouterr()

    assert main(["--local", local_run, "events", "list"]) == 0

    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split() == ["id", "chargePoint", "type", "timestamp", "techInfo"]
    assert len(lines) == 1
    assert "MemoryExhaustion" in lines[0]


def test_verify_checks_signatures_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = json.dumps(security_event("FirmwareUpdated")).encode()
    raw = tmp_path / "body.json"
    raw.write_bytes(body)
    secret = push_secret(7)
    headers = sign_push(body, "msg_1", secret)
    push = [
        "verify",
        "push",
        "--id",
        "msg_1",
        "--timestamp",
        headers["webhook-timestamp"],
        "--signature",
        headers["webhook-signature"],
        str(raw),
    ]

    assert bridge_cli(capsys, *push[:2], "--secret", secret, *push[2:]) == (0, [{"valid": True}])
    status, [refused] = bridge_cli(capsys, *push[:2], "--secret", push_secret(8), *push[2:])
    assert (status, refused["valid"], refused["reason"]) == (1, False, "bad_signature")
    from tests.harness import WEBHOOK_SECRET

    derived = bridge_cli(capsys, *push[:2], "--master", WEBHOOK_SECRET, "--charge-point", "7", *push[2:])
    assert derived == (0, [{"valid": True}])
    ampeco = ["verify", "ampeco", "--token", AMPECO_TOKEN, "--signature", sign_ampeco(body, AMPECO_TOKEN), str(raw)]
    assert bridge_cli(capsys, *ampeco) == (0, [{"valid": True}])


def test_subscribe_registers_the_webhook_with_the_tenant_which_then_notifies_it(
    bridge: Bridge, local_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from local.tenant_sim import TenantSimulator

    callback = local_run + "/webhooks/ampeco"
    with TenantSimulator(AMPECO_TOKEN, webhook_url=None, notification_delay_seconds=0) as tenant:
        status, answer = bridge_cli(
            capsys, "--local", local_run, "subscribe", "--tenant-url", tenant.url, "--callback-url", callback
        )
        assert status == 0
        assert answer["status"] == 201
        [subscription] = tenant.subscriptions
        assert subscription["webhook"] == {"callbackUrl": callback}
        assert "SecurityEventNotification" in subscription["notifications"]
        # The token came from the stack's secret: the tenant accepted it, and now notifies the bridge.
        tenant.record_security_event(51, "ResetOrReboot", "2026-11-30T10:00:00Z")
        assert tenant.wait_for_deliveries()
        [sent] = tenant.sent_notifications
        assert sent.status == 202

        refused = bridge_cli(
            capsys, "--local", local_run, "subscribe", "--tenant-url", tenant.url, "--callback-url", "not a url"
        )
        assert refused[0] == 1
        assert refused[1]["status"] == 422


def test_backfill_copies_sessions_stored_before_the_listing_table(
    bridge: Bridge, local_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.contract.schemas import example

    for n in range(3):
        body = example("notification_session_update")
        body["session"].update(id=f"70{n}", status="active")
        assert bridge.notify(body).status == 202
    table = bridge.stack.refs["SessionListingTable"]
    client = boto3.client("dynamodb", region_name=REGION)
    for item in bridge.table_items("SessionListingTable"):  # as on a stack upgraded from before the table
        client.delete_item(TableName=table, Key={"sessionId": item["sessionId"]})

    status, [done] = bridge_cli(capsys, "--local", local_run, "sessions", "backfill-listing", "--limit", "2")

    assert (status, done["copied"]) == (0, 3)
    assert len(bridge.table_items("SessionListingTable")) == 3
    status, listed = bridge_cli(
        capsys, "--local", local_run, "sessions", "list", "--charge-point", "1187", "--status", "active"
    )
    assert (status, sorted(s["id"] for s in listed)) == (0, ["700", "701", "702"])  # through the listing table
