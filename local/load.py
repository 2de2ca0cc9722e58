"""`python -m local.load` (what `make load` runs): a bounded load on the local run, then a count of what it kept.

Target: by default it starts its own local run (`python -m local` with its tenant simulator, whatever
AMPECO_BASE_URL says) as a child process on a free loopback port and stops it at the end, so `make load` works
alone on a fresh machine; a child process rather than threads beside the load, so the clients do not share the
bridge's interpreter lock. With BRIDGE_URL set it loads that local run instead (`make run` on a loopback
address; its API key, AMPECO token and webhook masters from BRIDGE_API_KEY, AMPECO_API_TOKEN and WEBHOOK_SECRET,
as that run has them), and sends starts only when asked (LOAD_STARTS), since that run may forward them to a
real tenant. Loopback only: the count reads the local run's own `/_local/deliveries`. Each push is signed with
its charge point's own secret, derived from the first master (CONTRACT section 3).

Traffic (options, or LOAD_* environment variables): signed direct pushes, signed AMPECO
SecurityEventNotifications of which a share is sent a second time with the same bytes, and starts (the
simulator starts a session for each), all shuffled and sent by worker threads with one keep-alive connection
each. A progress line every few seconds. Then it waits, with a deadline, until the relay delivered as many as
were accepted, lists what was stored (the security-event listing, paged with its cursor; starts by their
X-Bridge-Attempt-Id), and prints a table per kind. Exit status 1 when an invariant fails: a non-2xx answer, a
connection error, an event stored other than once, a stored event or start result not delivered exactly once.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from local.load_traffic import (
    KINDS,
    NOTIFICATION,
    PUSH,
    START,
    Plan,
    Target,
    Traffic,
    Workload,
    build_workload,
    percentile,
    send_all,
)

LISTING = "/public-api/resources/security-events/v2.0"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
STARTUP_SECONDS = 120
MAX_REQUESTS = 500_000  # bounds, whatever the options ask
MAX_SECONDS = 4 * 3600
SAMPLES = 5  # lost or doubled events printed per kind


# ---------------------------------------------------------------------- options
def parse_plan(argv: list[str], env: Mapping[str, str]) -> Plan:
    parser = argparse.ArgumentParser(prog="python -m local.load", description=__doc__.split("\n")[0])

    def option(name: str, variable: str, default: float, kind: type[int] | type[float], text: str) -> None:
        parser.add_argument(
            f"--{name}", type=kind, default=kind(env.get(variable) or default), help=f"{text} ({variable})"
        )

    # Against BRIDGE_URL, starts go to whatever tenant that run forwards to: only when asked for.
    starts = 0 if env.get("BRIDGE_URL") else 2_000
    option("pushes", "LOAD_PUSHES", 20_000, int, "signed direct pushes, one event each")
    option("notifications", "LOAD_NOTIFICATIONS", 2_000, int, "signed AMPECO SecurityEventNotifications")
    option("redeliveries", "LOAD_REDELIVERY_SHARE", 0.1, float, "share of notifications sent twice, same bytes")
    option("starts", "LOAD_STARTS", starts, int, "session starts (default 0 against BRIDGE_URL)")
    option("concurrency", "LOAD_CONCURRENCY", 50, int, "worker threads, one keep-alive connection each")
    option("send-seconds", "LOAD_SEND_SECONDS", 1_800, float, "stop sending after this")
    option("relay-seconds", "LOAD_RELAY_SECONDS", 600, float, "wait this long for the relay to deliver")
    args = parser.parse_args(argv)
    plan = Plan(
        pushes=args.pushes,
        notifications=args.notifications,
        redelivery_share=args.redeliveries,
        starts=args.starts,
        concurrency=args.concurrency,
        send_seconds=args.send_seconds,
        relay_seconds=args.relay_seconds,
    )
    counts = (plan.pushes, plan.notifications, plan.starts)
    if min(counts) < 0 or sum(counts) > MAX_REQUESTS or not 0 <= plan.redelivery_share <= 1:
        parser.error(f"counts from 0, {MAX_REQUESTS} requests at most; a redelivery share from 0 to 1")
    seconds = (plan.send_seconds, plan.relay_seconds)
    if not 1 <= plan.concurrency <= 500 or not all(0 < limit <= MAX_SECONDS for limit in seconds):
        parser.error(f"concurrency from 1 to 500; send and relay seconds above 0, {MAX_SECONDS} at most")
    return plan


# ---------------------------------------------------------------------- the target
def target_from(url: str, env: Mapping[str, str]) -> Target:
    from local.__main__ import LocalSettings

    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK or parts.port is None:
        raise SystemExit(f"BRIDGE_URL must be a loopback URL with a port (the local run), not {url!r}")
    settings = LocalSettings.from_env(env)
    tenant = env.get("AMPECO_TENANT") or None
    if settings.made_up:
        raise SystemExit(f"set {', '.join(settings.made_up)} as the local run at BRIDGE_URL has them")
    return Target(parts.hostname, parts.port, settings.api_key, settings.ampeco_token, settings.webhook_secret, tenant)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def own_local_run(env: Mapping[str, str]) -> Iterator[Target]:
    """`python -m local` in a child process on a free port, its output in a log file; stopped on exit."""
    from local.__main__ import SECRET_VARIABLES, made_up_secret

    port = free_port()
    child_env = {**env, "PORT": str(port), "LOCAL_LOG_LEVEL": env.get("LOCAL_LOG_LEVEL", "WARNING")}
    for variable in SECRET_VARIABLES:  # the run's secrets, known to the load as to a provisioned sender
        child_env.setdefault(variable, made_up_secret(variable))
    child_env.pop("AMPECO_BASE_URL", None)  # its own tenant simulator: a load never starts real sessions
    with tempfile.NamedTemporaryFile(prefix="bridge-load-", suffix=".log", delete=False) as log:
        print(f"starting a local run on 127.0.0.1:{port} (its output: {log.name})", flush=True)
        child = subprocess.Popen([sys.executable, "-m", "local"], env=child_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        target = target_from(f"http://127.0.0.1:{port}", child_env)
        wait_until_healthy(target, child)
        yield target
    finally:
        child.send_signal(signal.SIGTERM)  # the local run stops its threads on SIGTERM
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_until_healthy(target: Target, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the local run exited with status {child.returncode} before serving")
        try:
            if get_json(target, "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the local run did not answer /health within {STARTUP_SECONDS} s")


def get_json(target: Target, path: str, api_key: bool = False) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(target.host, target.port, timeout=120)
    try:
        connection.request("GET", path, headers={"x-api-key": target.api_key} if api_key else {})
        response = connection.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body else None
    finally:
        connection.close()


# ---------------------------------------------------------------------- what the bridge kept
@dataclass
class Stored:
    """What one kind left in the bridge: listing ids (events) or attempt ids (starts)."""

    keys: set[Any] = field(default_factory=set)
    ids_by_tech_info: dict[str, list[Any]] = field(default_factory=dict)  # events: their listing ids

    @property
    def twice(self) -> dict[str, list[Any]]:
        """Sent events listed under more than one id."""
        return {tech_info: ids for tech_info, ids in self.ids_by_tech_info.items() if len(ids) > 1}


def stored_events(target: Target, workload: Workload) -> dict[str, Stored]:
    """This run's listed events by kind, paging the listing with its cursor over the run's time window."""
    start, end = workload.window
    query = {"filter[timestampFrom]": start.isoformat(), "filter[timestampTo]": end.isoformat(), "per_page": "100"}
    stored = {PUSH: Stored(), NOTIFICATION: Stored()}
    cursor: str | None = ""
    began = next_report = time.monotonic()
    pages = listed = 0
    while cursor is not None:
        status, page = get_json(target, f"{LISTING}?{urlencode({**query, 'cursor': cursor})}", api_key=True)
        if status != 200:
            raise SystemExit(f"the listing answered {status}: {page}")
        pages, listed = pages + 1, listed + len(page["data"])
        if time.monotonic() >= next_report:
            print(f"  {time.monotonic() - began:6.1f} s  listing: {listed} items in {pages} pages", flush=True)
            next_report += 10
        for item in page["data"]:
            tech_info = str(item.get("techInfo", ""))
            kind = next((k for k in stored if tech_info.startswith(workload.tag(k))), None)
            if kind is not None and item["id"] not in stored[kind].keys:
                stored[kind].keys.add(item["id"])
                stored[kind].ids_by_tech_info.setdefault(tech_info, []).append(item["id"])
        cursor = page["meta"].get("next_cursor") or None
    return stored


@dataclass
class Delivered:
    """This run's messages of one kind: the stored keys they cover and how many were extra."""

    keys: set[Any] = field(default_factory=set)
    messages: int = 0
    event_ids: Counter[str] = field(default_factory=Counter)
    corrections: int = 0  # a correction names an earlier result: its own message, not a repeat
    ids_by_tech_info: dict[str, list[Any]] = field(default_factory=dict)  # events: the ids they were relayed with

    @property
    def duplicates(self) -> int:
        return self.messages - self.corrections - len(self.keys)


def delivered(target: Target, workload: Workload, attempt_ids: set[str]) -> dict[str, Delivered]:
    """This run's messages in /_local/deliveries, by kind."""
    status, messages = get_json(target, "/_local/deliveries")
    if status != 200:
        raise SystemExit(f"/_local/deliveries answered {status}")
    found = {PUSH: Delivered(), NOTIFICATION: Delivered(), START: Delivered()}
    for message in messages:
        body = message["body"] if isinstance(message.get("body"), dict) else {}
        data = body.get("data") or {}
        kind: str | None = None
        if message.get("topic") == "security-events":
            tech_info = str(data.get("techInfo", ""))
            kind = next((k for k in (PUSH, NOTIFICATION) if tech_info.startswith(workload.tag(k))), None)
            key = data.get("id")
        elif message.get("topic") == "start-results" and data.get("attemptId") in attempt_ids:
            kind, key = START, data["attemptId"]
        if kind is None:
            continue
        entry = found[kind]
        entry.messages += 1
        entry.event_ids[str(body.get("eventId"))] += 1
        if data.get("corrects"):
            entry.corrections += 1
        else:
            entry.keys.add(key)
        if kind != START:
            entry.ids_by_tech_info.setdefault(str(data.get("techInfo")), []).append(key)
    return found


def accepted_counts(traffic: Traffic) -> dict[str, int]:
    """What each kind should have delivered: the 2xx answers (a start's result once per attempt)."""
    counts = {
        kind: sum(n for status, n in traffic.kinds[kind].statuses.items() if 200 <= status < 300)
        for kind in (PUSH, NOTIFICATION)
    }
    return {**counts, START: len(traffic.kinds[START].attempt_ids)}


def wait_for_relay(
    target: Target, workload: Workload, accepted: dict[str, int], attempt_ids: set[str], seconds: float
) -> None:
    """Poll the deliveries until each kind has as many as were accepted, or the deadline passes.

    Done before the listing is paged: on moto every listing page sorts the whole table under the one lock,
    which would hold the relay back.
    """
    began = time.monotonic()
    while True:
        fetch_began = time.monotonic()
        found = delivered(target, workload, attempt_ids)
        fetched_in = time.monotonic() - fetch_began
        missing = sum(max(0, accepted[kind] - len(found[kind].keys)) for kind in found)
        waited = time.monotonic() - began
        print(f"  {waited:6.1f} s  relay: {missing} accepted items not delivered yet", flush=True)
        if not missing or waited > seconds:
            return
        time.sleep(max(3.0, 4 * fetched_in))  # the whole record on every poll: keep its share of the run small


# ---------------------------------------------------------------------- the report
HEADERS = ("kind", "sent", "answers", "stored", "delivered", "dup", "conn err", "p50", "p95", "p99", "max", "req/s")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def report(traffic: Traffic, stored: dict[str, Stored], found: dict[str, Delivered]) -> list[str]:
    """Prints the table; returns the invariants that failed."""
    rows: list[tuple[str, ...]] = []
    failures: list[str] = []
    for kind in KINDS:
        stats = traffic.kinds[kind]
        errors = sum(stats.connection_errors.values())
        latencies = stats.latencies
        kept, relayed = stored.get(kind), found.get(kind)
        rows.append((
            kind,
            str(stats.sent),
            " ".join(f"{status}:{n}" for status, n in sorted(stats.statuses.items())) or "-",
            str(len(kept.keys)) if kept else "-",
            str(len(relayed.keys & kept.keys)) if kept and relayed else "-",
            str(relayed.duplicates) if relayed else "-",
            str(errors),
            *(ms(percentile(latencies, share)) for share in (0.5, 0.95, 0.99)),
            ms(max(latencies, default=0)),
            f"{len(latencies) / max(traffic.seconds, 1e-9):.0f}",
        ))  # fmt: skip
        failures += kind_failures(kind, stats.statuses, errors, stats.sent, kept, relayed)
        if kind == START and stats.missing_attempt_ids:
            failures.append(f"{kind}: {stats.missing_attempt_ids} answers without X-Bridge-Attempt-Id")
    widths = [max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(HEADERS)]
    for row in (HEADERS, *rows):
        print(
            "  "
            + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
    print("  latencies in ms; req/s over the whole send phase")
    return failures


def kind_failures(
    kind: str, statuses: Counter[int], errors: int, sent: int, kept: Stored | None, relayed: Delivered | None
) -> list[str]:
    """The invariants of one kind: 2xx only, no connection error, stored once, delivered once."""
    failures = []
    if any(not 200 <= status < 300 for status in statuses):
        failures.append(f"{kind}: answers other than 2xx ({dict(statuses)})")
    if errors:
        failures.append(f"{kind}: {errors} connection errors")
    if kept is None:
        return failures
    if len(kept.keys) != sent - errors:
        failures.append(f"{kind}: {len(kept.keys)} stored, {sent - errors} accepted")
    if kept.twice:
        failures.append(f"{kind}: {len(kept.twice)} events stored more than once")
    if relayed is None:
        return failures
    if kept.keys - relayed.keys:
        failures.append(f"{kind}: {len(kept.keys - relayed.keys)} stored but not delivered")
    if relayed.keys - kept.keys:
        failures.append(f"{kind}: {len(relayed.keys - kept.keys)} delivered but never stored")
    if relayed.duplicates or any(n > 1 for n in relayed.event_ids.values()):
        failures.append(f"{kind}: {relayed.duplicates} duplicate deliveries")
    return failures


def print_details(
    traffic: Traffic, workload: Workload, stored: dict[str, Stored], found: dict[str, Delivered], plan: Plan
) -> None:
    """What an operator needs to chase a failed invariant: unexpected answers, events lost or doubled."""
    for kind in KINDS:
        for sample in traffic.kinds[kind].unexpected:
            print(f"  unexpected {kind} answer: {sample}")
    for kind, count in ((PUSH, plan.pushes), (NOTIFICATION, plan.notifications)):
        listed, relayed = stored[kind].ids_by_tech_info, found[kind].ids_by_tech_info
        missing = sorted({f"{workload.tag(kind)}{i}" for i in range(count)} - listed.keys())
        for tech_info in missing[:SAMPLES]:
            print(f"  {kind} not listed: {tech_info!r}, relayed with ids {relayed.get(tech_info, [])}")
        for tech_info, ids in list(stored[kind].twice.items())[:SAMPLES]:
            print(
                f"  {kind} listed twice: {tech_info!r} under ids {ids}, relayed with ids {relayed.get(tech_info, [])}"
            )


# ---------------------------------------------------------------------- main
def run(target: Target, plan: Plan) -> int:
    workload = build_workload(plan)
    print(
        f"load {workload.run_id}: {plan.pushes} pushes, {plan.notifications} notifications"
        f" (+{len(workload.jobs) - plan.pushes - plan.notifications - plan.starts} repeated), {plan.starts} starts,"
        f" concurrency {plan.concurrency}, against {target.url}",
        flush=True,
    )
    traffic = send_all(target, workload.jobs, plan)
    if traffic.skipped:
        print(f"  the send deadline passed: {traffic.skipped} requests never sent", flush=True)
    attempt_ids = set(traffic.kinds[START].attempt_ids)
    wait_for_relay(target, workload, accepted_counts(traffic), attempt_ids, plan.relay_seconds)
    print("paging the listing", flush=True)
    stored = {**stored_events(target, workload), START: Stored(attempt_ids)}
    found = delivered(target, workload, attempt_ids)
    failures = report(traffic, stored, found)
    print_details(traffic, workload, stored, found, plan)
    if traffic.skipped:
        failures.append(f"{traffic.skipped} requests not sent before the send deadline")
    for failure in failures:
        print(f"FAILED {failure}")
    print("all invariants hold" if not failures else f"{len(failures)} invariants failed", flush=True)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    plan = parse_plan(sys.argv[1:] if argv is None else argv, os.environ)
    if os.environ.get("BRIDGE_URL"):
        return run(target_from(os.environ["BRIDGE_URL"], os.environ), plan)
    with own_local_run(os.environ) as target:
        return run(target, plan)


if __name__ == "__main__":
    raise SystemExit(main())
