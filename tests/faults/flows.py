"""Each flow as it runs in production: the sender or caller with its retries, then Lambda and an operator.

A flow's subject step is the one whose calls are recorded and faulted; preconditions are faults that set the
stage (a completion that must be deferred, a first finaliser try that fails) and must fire too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bridge.signatures import body_fingerprint
from tests.contract.schemas import example
from tests.faults.calls import CallSite
from tests.faults.senders import keyed_caller, unkeyed_caller, webhook_sender
from tests.faults.world import Injection, World
from tests.harness import Answer, security_event

COMPLETION = CallSite("StartsFunction", "dynamodb", "UpdateItem", "AttemptsTable")
DEFERRED_WRITE = CallSite("FinaliserFunction", "dynamodb", "UpdateItem", "AttemptsTable")
EVENT_PUBLISH = CallSite("RelayFunction", "sns", "Publish", "SecurityEventsTopic")


@dataclass
class Observed:
    """What a flow saw: every HTTP answer, Lambda's tries in the subject step, and how often each fault fired."""

    answers: list[Answer] = field(default_factory=list)
    start_answers: list[Answer] = field(default_factory=list)  # the start caller's, on each try
    steps: dict[str, list[str]] = field(default_factory=dict)
    fired: dict[str, int] = field(default_factory=dict)
    keyed: bool = False
    events: int = 0  # security events sent
    notification: str | None = None  # the AMPECO delivery's fingerprint
    session: bool = False
    aftermath: dict[str, Any] = field(default_factory=dict)
    repeat: Answer | None = None  # the same key once more, after everything settled
    staged: bool = False  # the HTTP calls only set the stage: Lambda's tries are the subject


Script = Callable[[World], Observed]


def _finish(world: World, observed: Observed) -> Observed:
    observed.aftermath = world.aftermath()
    if world.fault is not None:
        observed.fired["subject"] = world.fault.fired
    return observed


# ---------------------------------------------------------------------- webhooks
def push(world: World) -> Observed:
    raw = json.dumps(security_event("TamperDetectionActivated", tech_info="single")).encode()
    return _pushed(world, raw, events=1)


def batch_push(world: World) -> Observed:
    events = [security_event("FirmwareUpdated"), security_event("ResetOrReboot")]
    return _pushed(world, json.dumps({"events": events}).encode(), events=len(events))


def _pushed(world: World, raw: bytes, events: int) -> Observed:
    webhook_id = f"msg_{world.charge_point}"
    with world.subject():
        answers = webhook_sender(lambda: world.bridge.push(world.charge_point, raw, webhook_id=webhook_id))
    return _finish(world, Observed(answers, events=events))


def ampeco_security_event(world: World) -> Observed:
    body = example("notification_security_event") | {
        "chargePointId": world.charge_point,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return _notified(world, json.dumps(body).encode(), Observed(events=1))


def session_update(world: World) -> Observed:
    body = example("notification_session_update")
    body["session"] |= {"id": str(world.charge_point), "chargePointId": world.charge_point}
    return _notified(world, json.dumps(body).encode(), Observed(session=True))


def _notified(world: World, raw: bytes, observed: Observed) -> Observed:
    with world.subject():
        observed.answers = webhook_sender(lambda: world.bridge.notify(raw))
    observed.notification = body_fingerprint(raw)
    return _finish(world, observed)


# ---------------------------------------------------------------------- starts
def _start(world: World, key: str | None = None) -> Answer:
    headers = {"Idempotency-Key": key} if key else {}
    path = f"/public-api/actions/charge-point/v1.0/{world.charge_point}/start/1"
    return world.bridge.request("POST", path, body={"idTag": world.tag}, headers=headers)


def _started(answers: list[Answer], *, keyed: bool = False, staged: bool = False, **fired: int) -> Observed:
    return Observed(answers, list(answers), fired=fired, keyed=keyed, staged=staged)


def start(world: World) -> Observed:
    with world.subject():
        answers = unkeyed_caller(lambda: _start(world))
    return _finish(world, _started(answers))


def keyed_start(world: World) -> Observed:
    key = f"key-{world.charge_point}"
    with world.subject():
        answers = keyed_caller(lambda: _start(world, key))
    return _repeated(world, key, _started(answers, keyed=True))


def keyed_start_deferred(world: World) -> Observed:
    """The completion fails once, so the result goes to the completions queue: the subject is that send."""
    key = f"key-{world.charge_point}"
    with world.precondition(Injection(COMPLETION, "internal")) as completion, world.subject():
        answers = keyed_caller(lambda: _start(world, key))
    return _repeated(world, key, _started(answers, keyed=True, completion=completion.fired))


def _repeated(world: World, key: str, observed: Observed) -> Observed:
    """A caller whose answer got lost on the way repeats the key later: that must never reach the tenant."""
    _finish(world, observed)
    observed.repeat = _start(world, key)
    return observed


# ---------------------------------------------------------------------- finaliser
def _deferred_start(world: World) -> tuple[list[Answer], int]:
    with world.precondition(Injection(COMPLETION, "internal")) as completion:
        answers = unkeyed_caller(lambda: _start(world))
    return answers, completion.fired


def finaliser(world: World) -> Observed:
    """The deferred completion, applied from the queue (redelivered while it fails)."""
    answers, completion = _deferred_start(world)
    observed = _started(answers, staged=True, completion=completion)
    with world.subject():
        observed.steps["deferred"] = world.deliver_deferred()
    return _finish(world, observed)


def sweep(world: World) -> Observed:
    """The sweep gets there first (the deferred completion's first try failed); the real result, redelivered,
    then corrects it."""
    answers, completion = _deferred_start(world)
    with world.precondition(Injection(DEFERRED_WRITE, "internal")) as first_try:
        first = world.deliver_deferred(receives=1)
    observed = _started(answers, staged=True, completion=completion, first_try=first_try.fired)
    with world.subject():
        observed.steps = {"deferred": first, "schedule": world.sweep(ticks=2)}
    return _finish(world, observed)


# ---------------------------------------------------------------------- relay
def _stored(world: World) -> Observed:
    """One security event and one start result stored before the relay runs: their relay is the subject."""
    raw = json.dumps(security_event("TamperDetectionActivated", tech_info="relayed")).encode()
    pushed = world.bridge.push(world.charge_point, raw, webhook_id=f"msg_{world.charge_point}")
    started = _start(world)
    return Observed([pushed, started], [started], events=1, staged=True)


def relay(world: World) -> Observed:
    """Young changes: a failed publish is retried by the stream event source."""
    observed = _stored(world)
    with world.subject():
        observed.steps["stream"] = world.relay()
    return _finish(world, observed)


def relay_past_give_up(world: World) -> Observed:
    """Changes older than RelayGiveUpSeconds: a failed publish is kept for redrive."""
    observed = _stored(world)
    with world.impatient_relay(), world.subject():
        observed.steps["stream"] = world.relay()
    return _finish(world, observed)


def relay_keeping(world: World) -> Observed:
    """The event's publish fails past the give-up age, so its message is kept: the subject is keeping it."""
    observed = _stored(world)
    refusal = Injection(EVENT_PUBLISH, "internal")
    with world.impatient_relay(), world.precondition(refusal) as refused, world.subject():
        observed.steps["stream"] = world.relay()
    observed.fired["publish"] = refused.fired
    return _finish(world, observed)


SCRIPTS: dict[str, Script] = {
    "push": push,
    "batch push": batch_push,
    "AMPECO security event": ampeco_security_event,
    "session notification": session_update,
    "start": start,
    "keyed start": keyed_start,
    "keyed start, deferred": keyed_start_deferred,
    "finaliser": finaliser,
    "sweep": sweep,
    "relay": relay,
    "relay past give-up": relay_past_give_up,
    "relay keeping": relay_keeping,
}
