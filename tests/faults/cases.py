"""The case table: each flow's calls (as recorded, fault-free), where faults go, and which kinds can happen there.

A kind is listed only where AWS can really answer it: reads cannot lose an effect, so no `answer_lost`; a
`conditional` failure only where another writer can make the condition false without the caller's own earlier
write (an event slot taken by another event, an attempt completed while the sweep looked); a
`conflict` only where the item can be inside someone else's transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.faults.calls import READS, WRITES, CallSite, Target, target
from tests.faults.flows import SCRIPTS, Script

WEBHOOKS, STARTS, FINALISER, RELAY = "WebhooksFunction", "StartsFunction", "FinaliserFunction", "RelayFunction"
SLOT_WRITES = (*WRITES, "conditional", "conflict")  # event slots: another event's write or transaction
TRANSACTION = (*WRITES, "conflict")


@dataclass(frozen=True)
class Flow:
    """A flow: what its subject step calls, in order, and the calls faults are injected at."""

    name: str
    calls: tuple[CallSite, ...]
    targets: tuple[Target, ...]

    @property
    def script(self) -> Script:
        """How the flow runs (tests.faults.flows)."""
        return SCRIPTS[self.name]


def _secret(function: str, secret: str) -> Target:
    return target(function, "secretsmanager", "GetSecretValue", secret, kinds=READS)


PUSH_SECRET = _secret(WEBHOOKS, "WebhookSecret")
AMPECO_SECRET = _secret(WEBHOOKS, "AmpecoApiToken")
START_SECRET = _secret(STARTS, "AmpecoApiToken")
EVENT_PUT = target(WEBHOOKS, "dynamodb", "PutItem", "SecurityEventsTable", kinds=SLOT_WRITES)
BATCH = target(WEBHOOKS, "dynamodb", "TransactWriteItems", "SecurityEventsTable", kinds=SLOT_WRITES)
# One conditional put of the event, which carries its delivery: its identity is the redelivery's dedup too.
NOTIFIED = target(WEBHOOKS, "dynamodb", "PutItem", "SecurityEventsTable", kinds=SLOT_WRITES)
SESSION_READ = target(WEBHOOKS, "dynamodb", "GetItem", "SessionsTable", kinds=READS)
# The delivery's record, the session and its listing copy: one transaction, so no fault falls between them.
SESSION_WRITE = target(
    WEBHOOKS,
    "dynamodb",
    "TransactWriteItems",
    "SecurityEventsTable+SessionListingTable+SessionsTable",
    kinds=TRANSACTION,
)
# A new session looks for the ambiguous start it may answer (its charge point's, its EVSE's): best effort,
# the delivery is stored already and the reconciler retries.
STARTS_NEAR = target(WEBHOOKS, "dynamodb", "Query", "AttemptsTable.byTarget", kinds=READS)
CREATE = target(STARTS, "dynamodb", "PutItem", "AttemptsTable", kinds=WRITES)
KEYED_CREATE = target(STARTS, "dynamodb", "TransactWriteItems", "AttemptsTable+IdempotencyTable", kinds=TRANSACTION)
COMPLETE = target(STARTS, "dynamodb", "UpdateItem", "AttemptsTable", kinds=WRITES)
DEFER = target(STARTS, "sqs", "SendMessage", "CompletionsQueue", kinds=WRITES)
APPLY = target(FINALISER, "dynamodb", "UpdateItem", "AttemptsTable", kinds=WRITES)
PENDING = target(FINALISER, "dynamodb", "Query", "AttemptsTable.byPending", kinds=READS)
SWEEP = target(FINALISER, "dynamodb", "UpdateItem", "AttemptsTable", kinds=(*WRITES, "conditional"))
PUBLISH_EVENT = target(RELAY, "sns", "Publish", "SecurityEventsTopic", kinds=WRITES)
PUBLISH_RESULT = target(RELAY, "sns", "Publish", "StartResultsTopic", kinds=WRITES)
KEEP = target(RELAY, "dynamodb", "PutItem", "UndeliveredTable", kinds=WRITES)
# A change past the give-up age that is published after all forgets any copy kept while an answer was lost.
FORGET = target(RELAY, "dynamodb", "DeleteItem", "UndeliveredTable", kinds=())
RELAYED = (PUBLISH_EVENT.site, PUBLISH_RESULT.site)  # the streams are read in template order
RELAYED_OLD = (PUBLISH_EVENT.site, FORGET.site, PUBLISH_RESULT.site, FORGET.site)

FLOWS = (
    Flow("push", (PUSH_SECRET.site, EVENT_PUT.site), (PUSH_SECRET, EVENT_PUT)),
    Flow("batch push", (PUSH_SECRET.site, BATCH.site), (PUSH_SECRET, BATCH)),
    Flow("AMPECO security event", (AMPECO_SECRET.site, NOTIFIED.site), (AMPECO_SECRET, NOTIFIED)),
    Flow(
        "session notification",
        (AMPECO_SECRET.site, SESSION_READ.site, SESSION_WRITE.site, STARTS_NEAR.site, STARTS_NEAR.site),
        (AMPECO_SECRET, SESSION_READ, SESSION_WRITE, STARTS_NEAR),
    ),
    Flow("start", (START_SECRET.site, CREATE.site, COMPLETE.site), (START_SECRET, CREATE, COMPLETE)),
    Flow("keyed start", (START_SECRET.site, KEYED_CREATE.site, COMPLETE.site), (START_SECRET, KEYED_CREATE, COMPLETE)),
    # The completion fails once (a precondition), so the result is sent to the completions queue.
    Flow("keyed start, deferred", (START_SECRET.site, KEYED_CREATE.site, COMPLETE.site, DEFER.site), (DEFER,)),
    Flow("finaliser", (APPLY.site,), (APPLY,)),
    # Two runs of the schedule: the first finds the stuck attempt, the next finds nothing left.
    Flow("sweep", (PENDING.site, SWEEP.site, PENDING.site), (PENDING, SWEEP)),
    Flow("relay", RELAYED, (PUBLISH_EVENT, PUBLISH_RESULT)),
    Flow("relay past give-up", RELAYED_OLD, (PUBLISH_EVENT, PUBLISH_RESULT)),
    # The event's publish fails past the give-up age (a precondition), so its message is kept.
    Flow("relay keeping", (PUBLISH_EVENT.site, KEEP.site, PUBLISH_RESULT.site, FORGET.site), (KEEP,)),
)

# SNS took the message but its answer was lost: no relay can tell that from a refusal, so the message goes
# again, with the same eventId (contract section 4: subscribers drop duplicates by eventId).
UNAVOIDABLE_DUPLICATES = {(flow, "Publish", "answer_lost"): 1 for flow in ("relay", "relay past give-up")}

# Product bugs a case shows, by (flow, call, kind): each is an xfail(strict=True) until fixed.
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True)
class Case:
    """One fault at one call of one flow, `times` in a row."""

    flow: Flow
    site: CallSite
    kind: str
    times: int = 1

    @property
    def id(self) -> str:
        """The pytest id: flow, operation, resource, kind."""
        name = f"{self.flow.name}-{self.site.operation}-{self.site.resource}-{self.kind}"
        return re.sub(r"[^\w.+-]+", "_", name + (f"-x{self.times}" if self.times > 1 else ""))

    @property
    def duplicates(self) -> int:
        """Deliveries that may arrive twice with the same eventId however the bridge is built."""
        return UNAVOIDABLE_DUPLICATES.get((self.flow.name, self.site.operation, self.kind), 0)

    @property
    def bug(self) -> str | None:
        """Why the case fails on the current code, when it is a known product bug."""
        return KNOWN_BUGS.get((self.flow.name, str(self.site), self.kind))


def cases() -> list[Case]:
    """Every flow, every target call, every kind that can happen there; and SNS refusing a young change 3 times."""
    table = [Case(flow, t.site, kind) for flow in FLOWS for t in flow.targets for kind in t.kinds]
    relay = next(flow for flow in FLOWS if flow.name == "relay")
    return [*table, Case(relay, PUBLISH_EVENT.site, "internal", times=3)]
