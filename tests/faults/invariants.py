"""What must hold after any single fault and the retries a real sender and Lambda make, and the figures the
report shows: events lost, duplicates delivered, tenant calls per key."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.storage.attempts import from_item
from bridge.storage.undelivered import PARTITION
from tests.faults.flows import Observed
from tests.faults.world import World
from tests.harness import Answer

RETRY_LATER = (429, 503)  # nothing took effect, or a retry finds what did: only with Retry-After


@dataclass
class Verdict:
    """The figures of one case and every invariant it broke."""

    lost: int = 0
    duplicates: int = 0
    tenant_calls: int | None = None  # per Idempotency-Key, or per start the caller was answered for
    broken: list[str] = field(default_factory=list)

    def require(self, holds: bool, what: str) -> None:
        if not holds:
            self.broken.append(what)

    def merge(self, other: Verdict) -> None:
        """Add another family's figures and findings."""
        self.lost += other.lost
        self.duplicates += other.duplicates
        self.tenant_calls = other.tenant_calls if other.tenant_calls is not None else self.tenant_calls
        self.broken += other.broken


def _items(world: World, table: str, condition: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The case's items of a table: a filtered Scan (tests only), so a shared, growing table stays cheap to read."""
    client = world.stage.dynamodb
    request = {
        "TableName": world.bridge.stack.refs[table],
        "FilterExpression": condition,
        "ExpressionAttributeValues": values,
    }
    items: list[dict[str, Any]] = []
    while True:
        page = client.scan(**request)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _of_charge_point(world: World, table: str) -> list[dict[str, Any]]:
    """The case's items: every case has a charge point of its own."""
    return _items(world, table, "chargePoint = :cp", {":cp": {"N": str(world.charge_point)}})


def _record_count(world: World, fingerprint: str) -> int:
    """How many records the AMPECO delivery left (its dedup mark)."""
    return len(_items(world, "SecurityEventsTable", "pk = :pk", {":pk": {"S": f"NOTIF#{fingerprint}"}}))


def _delivered(world: World, topic: str) -> list[dict[str, Any]]:
    return [d for d in world.bridge.deliveries.all() if d["topic"] == topic]


def _kept_event_ids(world: World) -> set[str]:
    """Messages still kept for an operator's redrive (one partition holds them all)."""
    table = world.bridge.stack.refs["UndeliveredTable"]
    values = {":pk": {"S": PARTITION}}
    page = world.stage.dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=values
    )
    return {item["eventId"]["S"] for item in page["Items"]}


# ---------------------------------------------------------------------- every case
def check_answers(verdict: Verdict, observed: Observed) -> None:
    """No 5xx but a retryable storage failure; the sender or caller got through in the end.

    A 503 whose write landed unseen (its answer lost) is allowed: the bridge cannot know, and the retry finds it.
    """
    for answer in observed.answers:
        status = answer.status
        if status in RETRY_LATER:
            verdict.require("retry-after" in answer.headers, f"{status} without Retry-After")
        elif status == 409:
            verdict.require(observed.keyed, "409 for a request without an Idempotency-Key")
        else:
            verdict.require(status in (200, 202), f"answered {status}: {answer.text[:120]}")
    verdict.require(bool(observed.answers) and observed.answers[-1].status in (200, 202), "never accepted")


def check_fired(verdict: Verdict, observed: Observed, times: int | None) -> None:
    """A fault test that injects nothing tests nothing: the case's fault (if any) and every precondition fired."""
    if times is not None:
        fired = observed.fired.get("subject")
        verdict.require(fired == times, f"the fault fired {fired} times, not {times}")
    for name, fired in observed.fired.items():
        verdict.require(name == "subject" or fired == 1, f"the precondition ({name}) fired {fired} times")


def check_settled(verdict: Verdict, world: World) -> None:
    """Nothing is left in flight for the next case, and every delivery was this case's own."""
    cp = str(world.charge_point)
    foreign = [d for d in world.bridge.deliveries.all() if d["attributes"].get("chargePoint") != cp]
    verdict.require(not foreign, f"{len(foreign)} deliveries of another charge point")
    verdict.require(world.bridge.pump.pending() == 0, "stream records still failing in the relay")
    for queue in ("CompletionsQueue", "CompletionsDlq"):
        verdict.require(world.queue_depth(queue) == 0, f"deferred writes left in {queue}")


# ---------------------------------------------------------------------- security events
def check_security_events(verdict: Verdict, world: World, expected: int, notification: str | None) -> None:
    """Accepted events are stored once and relayed once (or kept, then redriven once); nothing twice."""
    stored = [i for i in _of_charge_point(world, "SecurityEventsTable") if i["kind"]["S"] == "securityEvent"]
    stored_ids = Counter(i["eventId"]["S"] for i in stored)
    verdict.require(len(stored) == expected, f"{len(stored)} events stored, {expected} accepted")
    verdict.require(all(n == 1 for n in stored_ids.values()), "an event stored twice")
    if notification is not None:  # the delivery is kept on its event, the one item it wrote
        carried = [i.get("deliveryFingerprint", {}).get("S") for i in stored]
        verdict.require(carried == [notification], f"the stored event carries delivery {carried}")
        records = _record_count(world, notification)
        verdict.require(records == 0, f"{records} separate notification records")

    delivered = Counter(d["body"]["eventId"] for d in _delivered(world, "security-events"))
    verdict.lost = max(0, expected - len(stored_ids)) + sum(1 for e in stored_ids if delivered[e] == 0)
    verdict.duplicates = sum(n - 1 for n in delivered.values() if n > 1)
    verdict.require(set(delivered) <= set(stored_ids), "delivered an event that is not stored")
    verdict.require(not (_kept_event_ids(world) & set(stored_ids)), "still kept for redrive after a redrive")


# ---------------------------------------------------------------------- sessions
def check_session(verdict: Verdict, world: World, notification: str) -> None:
    """The notification is applied once: the session exists at version 1, beside its delivery's record, and the
    listing's copy is the session's (every combination of filters lists it as stored)."""
    key = {":id": {"S": str(world.charge_point)}}
    sessions = _items(world, "SessionsTable", "sessionId = :id", key)
    copies = _items(world, "SessionListingTable", "sessionId = :id", key)
    records = _record_count(world, notification)
    verdict.lost = 0 if sessions else 1
    verdict.duplicates = max(0, int(sessions[0]["version"]["N"]) - 1) if sessions else 0
    verdict.require(len(sessions) == 1, "the session is not stored")
    verdict.require(verdict.duplicates == 0, "the notification was applied twice")
    verdict.require(records == 1, f"{records} notification records")
    same = [(c["version"], c["document"]) for c in copies] == [(s["version"], s["document"]) for s in sessions]
    verdict.require(same, f"{len(copies)} listing copies, not the stored session's")


# ---------------------------------------------------------------------- starts
def check_starts(verdict: Verdict, world: World, observed: Observed) -> None:
    """The tenant is called at most once per key and once per start answered; each sent start's final, relayed
    result is the tenant's real answer; a start answered 429/503 is never relayed as failed."""
    calls = [c for c in world.stage.tenant.calls if isinstance(c.body, dict) and c.body.get("idTag") == world.tag]
    verdict.tenant_calls = len(calls)
    started = [a for a in observed.start_answers if a.status == 202]
    if observed.keyed:
        verdict.require(len(calls) <= 1, f"the tenant was called {len(calls)} times for one key")
        verdict.require(len({a.text for a in started}) <= 1, "repeats of one key got different answers")
    else:
        verdict.require(len(calls) == len(started), f"{len(calls)} tenant calls for {len(started)} starts answered")

    attempts = {a["attemptId"]: a for a in (from_item(i) for i in _of_charge_point(world, "AttemptsTable"))}
    messages = [d for d in _delivered(world, "start-results") if d["body"]["data"]["chargePoint"] == world.charge_point]
    per_event = Counter(d["body"]["eventId"] for d in messages)
    verdict.duplicates = sum(n - 1 for n in per_event.values() if n > 1)
    verdict.require(all(a["status"] != "pending" for a in attempts.values()), "an attempt is still pending")

    if observed.repeat is not None:
        first = started[0] if started else None
        same = first is not None and (observed.repeat.status, observed.repeat.text) == (first.status, first.text)
        verdict.require(same, f"a late repeat of the key got {observed.repeat.status} {observed.repeat.text[:80]}")

    sent = {a.headers.get("x-bridge-attempt-id"): _real(a) for a in started}
    for attempt_id, real in sent.items():
        attempt = attempts.get(attempt_id or "")
        held = attempt or {}
        told = _in_order([d for d in messages if d["body"]["data"]["attemptId"] == attempt_id])
        recorded = (held.get("status"), held.get("outcome"), held.get("sessionId")) == ("final", "started", real)
        relayed = bool(told) and told[-1]["attributes"]["outcome"] == "started" and _session(told[-1]) == real
        verdict.lost += 0 if recorded and relayed else 1
        verdict.require(recorded, f"attempt {attempt_id} holds {_result(attempt)}, the tenant said started {real}")
        verdict.require(relayed, f"subscribers were last told {[_said(d) for d in told]}, not started {real}")
        revisions = len({d["body"]["eventId"] for d in told})
        verdict.require(attempt is None or revisions == attempt.get("revision"), "a revision never relayed")
    refused = {a.headers.get("x-bridge-attempt-id") for a in observed.start_answers if a.status in RETRY_LATER}
    for attempt_id in refused - {None}:
        sent_anyway = attempts.get(attempt_id or "", {}).get("tenantStatus") is not None
        verdict.require(not sent_anyway, f"answered 429/503 after the tenant was called ({attempt_id})")
    # Whether or not its 429/503 named the attempt, a start that never reached the tenant is never relayed.
    for d in messages:
        verdict.require(d["body"]["data"]["attemptId"] in sent, f"relayed {_said(d)} for a start never sent")


def _real(answer: Answer) -> str:
    return str(json.loads(answer.text)["sessionId"])


def _in_order(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An attempt's messages first to last: each correction names the message it corrects."""
    by_corrected = {m["body"]["data"].get("corrects"): m for m in messages}
    ordered: list[dict[str, Any]] = []
    following = by_corrected.get(None)
    while following is not None and len(ordered) < len(messages):
        ordered.append(following)
        following = by_corrected.get(following["body"]["eventId"])
    return ordered + [m for m in messages if m not in ordered]


def _session(message: dict[str, Any]) -> str:
    return str(message["body"]["data"].get("sessionId"))


def _said(message: dict[str, Any]) -> str:
    attributes = message["attributes"]
    return f"{attributes['outcome']}/{attributes.get('errorCode', _session(message))}"


def _result(attempt: dict[str, Any] | None) -> str:
    if attempt is None:
        return "nothing"
    return f"{attempt['status']} {attempt.get('outcome')}/{attempt.get('errorCode') or attempt.get('sessionId')}"


def judge(world: World, observed: Observed, times: int | None = None, duplicates: int = 0) -> Verdict:
    """Every invariant of the flow's kind. `times`: how often the case's fault must have fired (None: no fault);
    `duplicates`: deliveries that arrive twice with one eventId whatever the bridge does."""
    verdict = Verdict()
    check_answers(verdict, observed)
    check_fired(verdict, observed, times)
    check_settled(verdict, world)
    # A relay flow stores an event and a start: each family is judged on its own, then added up.
    families: list[Callable[[Verdict], None]] = []
    if observed.session:
        assert observed.notification is not None
        families.append(lambda family: check_session(family, world, str(observed.notification)))
    if observed.events:
        families.append(lambda family: check_security_events(family, world, observed.events, observed.notification))
    if observed.start_answers:
        families.append(lambda family: check_starts(family, world, observed))
    for check in families:
        family = Verdict()
        check(family)
        verdict.merge(family)
    verdict.require(verdict.duplicates == duplicates, f"{verdict.duplicates} duplicates delivered")
    return verdict
