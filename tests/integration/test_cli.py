"""The `bridge` command against a local run: its AWS endpoint, `/_local/stack`, redrive and replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.cli import main
from local.lambda_runtime import load_function
from tests.harness import Bridge, fault, security_event


def run(*argv: str) -> tuple[int, dict[str, object]]:
    """The command in its own process, as an operator runs it beside the local run."""
    done = subprocess.run(
        [sys.executable, "-m", "bridge.cli", *argv], capture_output=True, text=True, timeout=60, env=_env(), check=False
    )
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}


def _env() -> dict[str, str]:
    shared = str(Path(__file__).resolve().parents[2] / "shared")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([shared, os.environ.get("PYTHONPATH", "")])}


def test_redrive_and_replay_through_the_local_runs_endpoint(bridge: Bridge, local_run: str) -> None:
    # Given a message the relay kept after SNS refused it
    relay = load_function(bridge.stack.template, "RelayFunction")
    patience, relay.give_up_after = relay.give_up_after, timedelta(0)
    try:
        bridge.push(21, security_event("TamperDetectionActivated"))
        with fault("sns", "Publish") as refused:
            bridge.relay()
    finally:
        relay.give_up_after = patience
    assert refused.fired == 1
    [kept] = [item["eventId"]["S"] for item in bridge.table_items("UndeliveredTable")]

    # When the operator redrives through the local run
    status, report = run("--local", local_run, "--json", "redrive")

    # Then it is published once, with its own eventId, and recorded as a delivery
    assert (status, report) == (0, {"published": 1, "failed": 0, "eventIds": [kept]})
    assert [d["body"]["eventId"] for d in bridge.deliveries.all()] == [kept]
    assert run("--local", local_run, "--json", "redrive")[1]["published"] == 0

    # And a replay of the window publishes the stored event again, with the same eventId
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    status, replayed = run(
        "--local", local_run, "replay", "security-events", "--since", since, "--until", until, "--json"
    )
    assert (status, replayed["eventIds"]) == (0, [kept])


def test_a_bad_window_is_refused_with_one_line(local_run: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "--local",
            local_run,
            "replay",
            "start-results",
            "--since",
            "2026-01-01T00:00:00Z",
            "--until",
            "2026-03-01T00:00:00Z",
        ]
    )
    assert status == 2
    assert capsys.readouterr().err.strip() == "bridge: a replay covers at most 31 days"


def test_an_unreachable_local_run_is_one_line_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--local", "http://127.0.0.1:9", "redrive"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bridge: ")
    assert "Traceback" not in err
