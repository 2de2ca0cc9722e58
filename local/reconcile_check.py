"""`python -m local.reconcile_check` (what `make reconcile-check` runs): lost webhooks, found again.

It starts its own local run (as `make load` does) whose tenant simulator drops a share of its notifications
(`--drop`, default 0.3), has the simulated tenant record security events (`--events`, default 500) and start
sessions through the bridge (`--sessions`, default 100), and waits for the reconciler (every 5 s here) to
bring in what the webhooks lost. Then one `SIM:LATE_START`: the caller's 504, the `failed` message, and the
correction once its session is found. It prints the counts and exits 1 unless:

- every security event is listed once and relayed once (by eventId), and every session is listed;
- `ReconciledItems` (summed from the run's own metric output) equals what the simulator dropped: its
  security-event notifications, and the sessions whose full `SessionUpdateNotification` was lost;
- the late start ends `started`, corrected, with its session.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from local.load import free_port, get_json, target_from, wait_until_healthy
from local.load_traffic import Target

CRITICAL = (
    "FirmwareUpdated",
    "SettingSystemTime",
    "StartupOfTheDevice",
    "ResetOrReboot",
    "SecurityLogWasCleared",
    "MemoryExhaustion",
    "TamperDetectionActivated",
)
INTERVAL_SECONDS = 5
WAIT_SECONDS = 180
METRIC = re.compile(r'^\{"_aws".*"ReconciledItems"')


@contextmanager
def local_run(drop: float) -> Iterator[tuple[Target, Path]]:
    """`python -m local` in a child process with dropped notifications; its output file for the metrics."""
    from local.__main__ import SECRET_VARIABLES, made_up_secret

    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "LOCAL_LOG_LEVEL": "WARNING",
        "SIM_DROP_NOTIFICATIONS": str(drop),
        "RECONCILE_INTERVAL_SECONDS": str(INTERVAL_SECONDS),
        "AMPECO_TIMEOUT_SECONDS": "2",  # SIM:LATE_START answers after this deadline
    }
    for variable in SECRET_VARIABLES:
        env.setdefault(variable, made_up_secret(variable))
    env.pop("AMPECO_BASE_URL", None)
    with tempfile.NamedTemporaryFile(prefix="bridge-reconcile-", suffix=".log", delete=False) as log:
        print(f"starting a local run on 127.0.0.1:{port} (its output: {log.name})", flush=True)
        child = subprocess.Popen([sys.executable, "-m", "local"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        target = target_from(f"http://127.0.0.1:{port}", env)
        wait_until_healthy(target, child)
        yield target, Path(log.name)
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def call(target: Target, method: str, path: str, body: Any = None, api_key: bool = False) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(target.host, target.port, timeout=60)
    headers = {"content-type": "application/json"}
    if api_key:
        headers["x-api-key"] = target.api_key
    try:
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def listing(target: Target, path: str) -> list[dict[str, Any]]:
    """Every item of a bridge listing, paged by its cursor."""
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page = get_json(target, f"{path}?{urlencode({'per_page': 100, 'cursor': cursor})}", api_key=True)
        if status != 200:
            raise SystemExit(f"{path} answered {status}: {page}")
        items += page["data"]
        cursor = page["meta"].get("next_cursor") or ""
        if not cursor:
            return items


def wait_for(what: str, ready: Callable[[], bool]) -> float:
    began = time.monotonic()
    while not ready():
        if time.monotonic() - began > WAIT_SECONDS:
            raise SystemExit(f"gave up waiting for {what} after {WAIT_SECONDS} s")
        time.sleep(0.5)
    return time.monotonic() - began


def reconciled_items(log: Path) -> Counter[str]:
    """`ReconciledItems` by kind, summed over the run's own EMF metric lines."""
    found: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if METRIC.match(line):
            record = json.loads(line)
            found[record["kind"]] += int(sum(record["ReconciledItems"]))
    return found


def run(target: Target, log: Path, events: int, sessions: int) -> int:
    rng = random.Random(7)
    now = datetime.now(UTC)
    for n in range(events):
        body = {
            "chargePoint": rng.randint(1, 40),
            "type": CRITICAL[n % len(CRITICAL)],
            "timestamp": (now - timedelta(milliseconds=n * 37)).isoformat(timespec="microseconds"),
            "techInfo": f"check {n}",
        }
        status, answer = call(target, "POST", "/_local/tenant/security-events", body)
        if status != 201:
            raise SystemExit(f"the tenant refused event {n}: {status} {answer}")
    started: list[str] = []
    for n in range(sessions):
        path = f"/public-api/actions/evse/v1.0/{5000 + n}/start"
        status, answer = call(target, "POST", path, {"idTag": f"CHECK-{n}"}, api_key=True)
        if status != 202 or not answer.get("success"):
            raise SystemExit(f"start {n} answered {status}: {answer}")
        started.append(str(answer["sessionId"]))
    print(f"tenant recorded {events} security events and started {sessions} sessions", flush=True)

    took = wait_for(
        "every event and session to be listed",
        lambda: (
            len(listing(target, "/public-api/resources/security-events/v2.0")) >= events
            and len(listing(target, "/public-api/resources/sessions/v1.0")) >= sessions
        ),
    )
    time.sleep(2 * INTERVAL_SECONDS)  # two more runs: anything listed twice would show now
    listed_events = listing(target, "/public-api/resources/security-events/v2.0")
    listed_sessions = {s["id"] for s in listing(target, "/public-api/resources/sessions/v1.0")}
    _, deliveries = get_json(target, "/_local/deliveries")
    security = [d for d in deliveries if d["topic"] == "security-events"]
    by_event_id = Counter(d["body"]["eventId"] for d in security)
    sources = Counter(d["body"]["data"]["source"] for d in security)
    _, tenant = get_json(target, "/_local/tenant")
    dropped = tenant["dropped"]
    dropped_events = len(dropped.get("SecurityEventNotification", []))
    dropped_updates = {str(ids["sessionId"]) for ids in dropped.get("SessionUpdateNotification", [])}
    dropped_start_stop = len(dropped.get("session.start.stop.notification", []))
    reconciled = reconciled_items(log)

    late = late_start(target)

    rows = [
        ("security events recorded / listed", f"{events} / {len(listed_events)}"),
        ("  relayed messages / distinct eventIds", f"{len(security)} / {len(by_event_id)}"),
        ("  by source", ", ".join(f"{k} {v}" for k, v in sorted(sources.items()))),
        ("  notifications dropped / ReconciledItems", f"{dropped_events} / {reconciled['security-events']}"),
        ("sessions started / listed", f"{sessions} / {len(listed_sessions & set(started))}"),
        ("  SessionUpdate dropped / ReconciledItems", f"{len(dropped_updates)} / {reconciled['sessions']}"),
        ("  start.stop notifications dropped", str(dropped_start_stop)),
        ("all listed after", f"{took:.1f} s (reconciler every {INTERVAL_SECONDS} s)"),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"  {name:<{width}}  {value}" for name, value in rows))
    print(late["report"])
    failures = [
        text
        for failed, text in (
            (len(listed_events) != events, "not every security event is listed once"),
            (len(security) != events or len(by_event_id) != events, "a security event not relayed exactly once"),
            (reconciled["security-events"] != dropped_events, "ReconciledItems(security-events) != dropped"),
            (not set(started) <= listed_sessions, "a started session is not listed"),
            (reconciled["sessions"] != len(dropped_updates), "ReconciledItems(sessions) != lost session updates"),
            (not late["ok"], "the late start was not corrected"),
        )
        if failed
    ]
    for text in failures:
        print(f"FAILED: {text}")
    return 1 if failures else 0


def late_start(target: Target) -> dict[str, Any]:
    """A start the tenant answers only after the deadline: 504, `failed`, then the correction."""
    began = time.monotonic()
    late_tag = {"idTag": "SIM:LATE_START"}
    status, answer = call(target, "POST", "/public-api/actions/evse/v1.0/7778/start", late_tag, api_key=True)
    seconds = time.monotonic() - began

    def results() -> list[dict[str, Any]]:
        _, deliveries = get_json(target, "/_local/deliveries")
        return [d for d in deliveries if d["topic"] == "start-results" and d["body"]["data"]["evseId"] == 7778]

    took = wait_for("the late start's correction", lambda: len(results()) >= 2)
    failed, correction = results()[:2]
    ok = (
        status == 504
        and failed["attributes"]["outcome"] == "failed"
        and correction["attributes"].get("correction") == "true"
        and correction["attributes"]["outcome"] == "started"
        and correction["body"]["data"]["corrects"] == failed["body"]["eventId"]
    )
    report = "\n".join(
        [
            f"SIM:LATE_START: answered {status} {answer.get('errorCode')} after {seconds:.1f} s",
            f"  failed      eventId {failed['body']['eventId']}  errorCode {failed['attributes'].get('errorCode')}",
            f"  correction  eventId {correction['body']['eventId']}  outcome {correction['attributes']['outcome']}"
            f"  sessionId {correction['body']['data']['sessionId']}  corrects {correction['body']['data']['corrects']}"
            f"  ({took:.1f} s after the 504)",
        ]
    )
    return {"ok": ok, "report": report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--drop", type=float, default=0.3)
    args = parser.parse_args(argv)
    with local_run(args.drop) as (target, log):
        return run(target, log, args.events, args.sessions)


if __name__ == "__main__":
    raise SystemExit(main())
