"""The traffic of `make load`: signed requests as senders make them, sent by keep-alive workers, timed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import math
import queue
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bridge.models.security_events import CriticalSecurityEventType

PUSH, NOTIFICATION, REPEAT, START = "push", "notification", "repeated notification", "start"
KINDS = (PUSH, NOTIFICATION, REPEAT, START)
CRITICAL_TYPES = tuple(t.value for t in CriticalSecurityEventType)
CHARGE_POINTS = 500
EXPECTED_STATUS = {PUSH: 202, NOTIFICATION: 202, REPEAT: 200, START: 202}
SAMPLES = 5  # unexpected answers kept per kind, for the report
ANSWER_TIMEOUT_SECONDS = 60  # a start may wait for the tenant's deadline; anything slower is an error


@dataclass(frozen=True)
class Target:
    """A running local run and the credentials its senders and clients hold."""

    host: str
    port: int
    api_key: str
    ampeco_token: str
    webhook_secrets: str  # one or more whsec_ masters, space-separated
    tenant: str | None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Plan:
    pushes: int
    notifications: int
    redelivery_share: float
    starts: int
    concurrency: int
    send_seconds: float  # sending stops after this, whatever is left
    relay_seconds: float  # how long to wait for the relay to deliver everything accepted


@dataclass(frozen=True)
class Job:
    kind: str
    path: str
    body: bytes
    charge_point: int


@dataclass(frozen=True)
class Workload:
    run_id: str
    jobs: list[Job]
    window: tuple[datetime, datetime]  # every event timestamp of the run lies in it

    def tag(self, kind: str) -> str:
        """The techInfo prefix that marks this run's events of a kind."""
        return event_tag(self.run_id, kind)


def event_tag(run_id: str, kind: str) -> str:
    return f"load {run_id} {kind} "


# ---------------------------------------------------------------------- signing (what senders do)
def push_secret(masters: str, charge_point: int) -> str:
    """The secret a charge point signs its pushes with: derived from the first master (CONTRACT section 3)."""
    key = base64.b64decode(masters.split()[0].removeprefix("whsec_"))
    digest = hmac.new(key, f"charge-point:{charge_point}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


def push_headers(body: bytes, secret: str) -> dict[str, str]:
    """Standard Webhooks headers for a body."""
    webhook_id = f"msg_{uuid.uuid4().hex}"
    sent = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{sent}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": sent,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def ampeco_headers(body: bytes, token: str, tenant: str | None) -> dict[str, str]:
    """AMPECO's X-Signature: HMAC-SHA256 of the raw body keyed with the API token."""
    headers = {
        "X-Signature": hmac.new(token.encode(), body, hashlib.sha256).hexdigest(),
        "X-Timestamp": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
    }
    if tenant:
        headers["X-Tenant"] = tenant
    return headers


def request_headers(job: Job, target: Target) -> dict[str, str]:
    """Signed at send time: a push's timestamp must be within the bridge's tolerance when it arrives."""
    headers = {"Content-Type": "application/json"}
    if job.kind == PUSH:
        secret = push_secret(target.webhook_secrets, job.charge_point)
        headers.update(push_headers(job.body, secret))
    elif job.kind in {NOTIFICATION, REPEAT}:
        headers.update(ampeco_headers(job.body, target.ampeco_token, target.tenant))
    else:
        headers["x-api-key"] = target.api_key
    return headers


# ---------------------------------------------------------------------- the workload
def build_workload(plan: Plan, seed: int = 7) -> Workload:
    """Every request of the run, shuffled; a repeated notification always comes after its original."""
    rng = random.Random(seed)
    run_id = uuid.uuid4().hex[:8]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    notifications = notification_jobs(plan, run_id, start + timedelta(milliseconds=plan.pushes), rng)
    jobs = [*push_jobs(plan, run_id, start, rng), *notifications, *start_jobs(plan, run_id)]
    rng.shuffle(jobs)
    position = {id(job): index for index, job in enumerate(jobs)}
    repeated = rng.sample(notifications, round(plan.notifications * plan.redelivery_share))
    # From the last original back, so the positions of those still to place do not move.
    for original in sorted(repeated, key=lambda job: -position[id(job)]):
        jobs.insert(rng.randint(position[id(original)] + 1, len(jobs)), Job(REPEAT, original.path, original.body, 0))
    end = start + timedelta(milliseconds=plan.pushes + plan.notifications + 1)
    return Workload(run_id, jobs, (start, end))


def push_jobs(plan: Plan, run_id: str, start: datetime, rng: random.Random) -> list[Job]:
    """One event per push, a millisecond apart, over CHARGE_POINTS charge points."""
    jobs = []
    for i in range(plan.pushes):
        at = start + timedelta(milliseconds=i, microseconds=rng.randrange(1000))
        charge_point = 1 + i % CHARGE_POINTS
        event = {
            "type": CRITICAL_TYPES[i % len(CRITICAL_TYPES)],
            "timestamp": at.isoformat(timespec="microseconds"),
            "techInfo": f"{event_tag(run_id, PUSH)}{i}",
        }
        path = f"/webhooks/charge-points/{charge_point}/security-events"
        jobs.append(Job(PUSH, path, json.dumps(event).encode(), charge_point))
    return jobs


def notification_jobs(plan: Plan, run_id: str, start: datetime, rng: random.Random) -> list[Job]:
    """AMPECO SecurityEventNotifications, each distinct (charge point, timestamp, techInfo)."""
    jobs = []
    for i in range(plan.notifications):
        at = start + timedelta(milliseconds=i, microseconds=rng.randrange(1000))
        notification = {
            "notification": "SecurityEventNotification",
            "chargePointId": 1 + i % CHARGE_POINTS,
            "type": CRITICAL_TYPES[i % len(CRITICAL_TYPES)],
            "timestamp": at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "techInfo": f"{event_tag(run_id, NOTIFICATION)}{i}",
            "critical": True,
        }
        jobs.append(Job(NOTIFICATION, "/webhooks/ampeco", json.dumps(notification).encode(), 0))
    return jobs


def start_jobs(plan: Plan, run_id: str) -> list[Job]:
    """Starts the simulator accepts (any idTag not starting with SIM:)."""
    jobs = []
    for i in range(plan.starts):
        charge_point = 1 + i % CHARGE_POINTS
        path = f"/public-api/actions/charge-point/v1.0/{charge_point}/start/{1 + i % 4}"
        jobs.append(Job(START, path, json.dumps({"idTag": f"LOAD-{run_id}-{i}"}).encode(), charge_point))
    return jobs


# ---------------------------------------------------------------------- sending
@dataclass
class KindStats:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    connection_errors: Counter[str] = field(default_factory=Counter)
    attempt_ids: set[str] = field(default_factory=set)
    missing_attempt_ids: int = 0
    unexpected: list[str] = field(default_factory=list)  # a few answers other than the kind's usual one

    @property
    def sent(self) -> int:
        return len(self.latencies) + sum(self.connection_errors.values())


@dataclass
class Traffic:
    """What the workers saw; every update under one lock."""

    kinds: dict[str, KindStats] = field(default_factory=lambda: {kind: KindStats() for kind in KINDS})
    skipped: int = 0  # left unsent when the send deadline passed
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, job: Job, status: int, seconds: float, attempt_id: str | None, body: bytes) -> None:
        with self.lock:
            stats = self.kinds[job.kind]
            stats.statuses[status] += 1
            stats.latencies.append(seconds)
            if status != EXPECTED_STATUS[job.kind] and len(stats.unexpected) < SAMPLES:
                stats.unexpected.append(f"{status} {job.path} {job.body[:100]!r} -> {body[:200]!r}")
            if job.kind == START:
                if attempt_id:
                    stats.attempt_ids.add(attempt_id)
                else:
                    stats.missing_attempt_ids += 1

    def failed(self, job: Job, error: Exception) -> None:
        with self.lock:
            self.kinds[job.kind].connection_errors[type(error).__name__] += 1

    def progress(self) -> tuple[int, int, list[float]]:
        """(requests answered or failed, connection errors, every latency so far)."""
        with self.lock:
            done = sum(s.sent for s in self.kinds.values())
            errors = sum(sum(s.connection_errors.values()) for s in self.kinds.values())
            return done, errors, [x for s in self.kinds.values() for x in s.latencies]

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


def percentile(values: list[float], share: float) -> float:
    """Nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def send_all(target: Target, jobs: list[Job], plan: Plan, report_every: float = 5.0) -> Traffic:
    """Send every job through `plan.concurrency` keep-alive workers, printing a progress line as they go."""
    pending: queue.SimpleQueue[Job] = queue.SimpleQueue()
    for job in jobs:
        pending.put(job)
    traffic = Traffic()
    stop_at = traffic.started + plan.send_seconds
    workers = [
        threading.Thread(target=_worker, args=(target, pending, traffic, stop_at), name=f"load-{n}", daemon=True)
        for n in range(plan.concurrency)
    ]
    for worker in workers:
        worker.start()
    next_report = traffic.started + report_every
    while any(worker.is_alive() for worker in workers):
        time.sleep(0.1)
        if time.monotonic() >= next_report:
            print(progress_line(traffic, len(jobs)), flush=True)
            next_report += report_every
    traffic.finished = time.monotonic()
    print(progress_line(traffic, len(jobs)), flush=True)
    return traffic


def progress_line(traffic: Traffic, total: int) -> str:
    done, errors, latencies = traffic.progress()
    seconds = traffic.seconds
    return (
        f"  {seconds:6.1f} s  sent {done:>6}/{total}  {done / max(seconds, 1e-9):6.0f} req/s"
        f"  connection errors {errors}  p50 {percentile(latencies, 0.5) * 1000:.0f} ms"
        f"  p99 {percentile(latencies, 0.99) * 1000:.0f} ms"
    )


def _worker(target: Target, pending: queue.SimpleQueue[Job], traffic: Traffic, stop_at: float) -> None:
    connection = http.client.HTTPConnection(target.host, target.port, timeout=ANSWER_TIMEOUT_SECONDS)
    try:
        while True:
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return
            if time.monotonic() > stop_at:
                with traffic.lock:
                    traffic.skipped += 1
                continue
            headers = request_headers(job, target)
            began = time.perf_counter()
            try:
                connection.request("POST", job.path, body=job.body, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()  # reconnects on the next request
                traffic.failed(job, error)
                continue
            seconds = time.perf_counter() - began
            traffic.answered(job, response.status, seconds, response.getheader("X-Bridge-Attempt-Id"), body)
    finally:
        connection.close()
