"""Least privilege: each function's inline IAM statements allow every AWS call its code makes, and no more.

Every botocore call a function's handler makes while it runs is recorded as (function, IAM action, resource
ARN), while the main flows of every function run against the stack built from template.yaml. The recorded
calls are then checked against the function's `Policies[].Statement` in template.yaml, resolved against the
same stack:

- every call must be allowed by some `Effect: Allow` statement of its own function (and by no Deny);
- every action of every statement must be used by some call of that function on one of the statement's
  resources, and every resource by one of its actions, unless the grant is on one of the allow-lists below
  (grants only AWS exercises; a library's documented fallback); no statement may grant actions by wildcard.
  The check is per action and per resource, not per pair: `[GetItem, Query]` on a table and its indexes
  passes although nothing calls GetItem on an index.

Calls are recorded by an observer of local/intercept.py, the botocore event hooks every session of the
process carries (the handlers' cached clients and Powertools' providers included): it sees each call in
`before-call`, before it is sent, because IAM authorises a call whether it then succeeds or fails (a fault
injected into it included). The function a call belongs to is the ContextVar the local Lambda runtime sets
around each function's handler, so the harness's own calls (scans, queue reads, stream polling) are not
attributed to any function. Each invocation starts with an empty secrets cache, as in AWS, where
every function has its own containers: otherwise the first function to read a shared secret would hide the
other's read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from local.aws import ACCOUNT_ID, REGION
from local.event_sources import sqs_record
from local.intercept import Call as AwsCall
from local.intercept import Observer, observing
from local.lambda_runtime import handler_invoker, load_function, make_context
from local.stack import Stack
from local.template import Tag
from local.tenant_records import SimSession
from local.tenant_sim import TenantSimulator
from tests.contract.schemas import example
from tests.harness import Bridge, fault, security_event

# Grants that only AWS exercises, so no local call can show them used:
# (function, action as written in the statement, resource as written in the template).
AWS_ONLY_GRANTS: dict[tuple[str, str, Tag], str] = {
    # SNS encrypts each message published to the topics (KmsMasterKeyId: MessagingKey) with a data key it
    # asks KMS for on the publisher's behalf: the publisher needs GenerateDataKey and Decrypt on the key.
    ("RelayFunction", "kms:GenerateDataKey", Tag("GetAtt", "MessagingKey.Arn")): "SNS encrypting for Publish",
    ("RelayFunction", "kms:Decrypt", Tag("GetAtt", "MessagingKey.Arn")): "SNS encrypting for Publish",
    # The stream event source mappings send the positions of records they gave up on to the on-failure
    # destination with the function's role (locally the stream pump does it, outside the handler).
    ("RelayFunction", "sqs:SendMessage", Tag("GetAtt", "RelayFailures.Arn")): "on-failure destination",
}
# Grants a library documents as required but calls only on a fallback path neither AWS nor moto takes.
LIBRARY_FALLBACK_GRANTS: dict[tuple[str, str, Tag], str] = {}

SECURITY_EVENTS = "/public-api/resources/security-events/v2.0"
SESSIONS = "/public-api/resources/sessions/v1.0"
CP_START = "/public-api/actions/charge-point/v1.0/12/start/3"
EVSE_START = "/public-api/actions/evse/v1.0/5/start"


# ---------------------------------------------------------------------- what a call needs
@dataclass(frozen=True, order=True)
class Call:
    """One permission a call needs: an IAM action on a resource ARN, by one function."""

    function: str
    action: str
    resource: str


class Resources:
    """Physical names, URLs and ids of the local stack as the ARNs IAM evaluates, and back to the template."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        template = stack.template
        self.tables = {stack.refs[t]: stack.attrs[(t, "Arn")] for t in template.of_type("AWS::DynamoDB::Table")}
        self.queues = {stack.refs[q]: stack.attrs[(q, "Arn")] for q in template.of_type("AWS::SQS::Queue")}
        self.secret_logical_ids = set(template.of_type("AWS::SecretsManager::Secret"))
        # Locally secrets are referenced by name; in AWS `!Ref` of a secret is its ARN.
        self.secrets = {stack.refs[s]: stack.attrs[(s, "Arn")] for s in self.secret_logical_ids}
        self.keys = {stack.refs[k]: stack.attrs[(k, "Arn")] for k in template.of_type("AWS::KMS::Key")}
        self.names: dict[str, str] = {}  # ARN -> how the template writes it
        for logical_id, resource in template.resources.items():
            if resource["Type"] in {"AWS::SNS::Topic", "AWS::SecretsManager::Secret"}:
                self.names[self.resolve(Tag("Ref", logical_id))] = f"!Ref {logical_id}"
            elif (logical_id, "Arn") in stack.attrs:
                self.names[stack.attrs[(logical_id, "Arn")]] = f"!GetAtt {logical_id}.Arn"

    def resolve(self, value: Any) -> str:
        """A statement's resource as AWS would resolve it."""
        if isinstance(value, Tag) and value.name == "Ref" and value.value in self.secret_logical_ids:
            return str(self.stack.attrs[(value.value, "Arn")])
        resolved = self.stack.resolve(value)
        assert isinstance(resolved, str), f"a resource that does not resolve to one string: {value!r}"
        return resolved

    def describe(self, arn: str) -> str:
        """`!GetAtt X.Arn`, `!Sub "${X.Arn}/index/name"` or `!Ref Topic` for an ARN of the stack."""
        if arn in self.names:
            return self.names[arn]
        for known, written in self.names.items():
            if arn.startswith(known + "/") and written.startswith("!GetAtt "):
                return f'!Sub "${{{written.removeprefix("!GetAtt ")}}}{arn[len(known) :]}"'
        return arn

    def table(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return self.tables.get(name, f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}")

    def queue(self, url: str) -> str:
        if url in self.queues:
            return self.queues[url]
        account, name = url.rstrip("/").split("/")[-2:]
        return f"arn:aws:sqs:{REGION}:{account}:{name}"

    def secret(self, secret_id: str) -> str:
        return self.secrets.get(secret_id, secret_id)

    def key(self, key_id: str) -> str:
        return self.keys.get(key_id, key_id if key_id.startswith("arn:") else "*")


_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
# Batch operations IAM authorises as the single-message action.
_SAME_AS = {
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("sns", "PublishBatch"): "Publish",
}


def permissions_needed(
    resources: Resources, service: str, operation: str, params: dict[str, Any]
) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs one API call is authorised on; "*" when the resource is unknown."""
    if service == "dynamodb":
        if operation in {"TransactWriteItems", "TransactGetItems"}:
            # IAM authorises each item of a transaction as its own action on its own table.
            return [
                (f"dynamodb:{_TRANSACT_ACTIONS[kind]}", resources.table(request["TableName"]))
                for item in params["TransactItems"]
                for kind, request in item.items()
            ]
        if operation in {"BatchWriteItem", "BatchGetItem"}:
            return [(f"dynamodb:{operation}", resources.table(name)) for name in params["RequestItems"]]
        if "TableName" in params:
            arn = resources.table(params["TableName"])
            if operation in {"Query", "Scan"} and params.get("IndexName"):
                arn = f"{arn}/index/{params['IndexName']}"
            return [(f"dynamodb:{operation}", arn)]
    action = f"{service}:{_SAME_AS.get((service, operation), operation)}"
    if service == "sns":
        return [(action, str(params.get("TopicArn") or params.get("TargetArn") or "*"))]
    if service == "sqs" and "QueueUrl" in params:
        return [(action, resources.queue(params["QueueUrl"]))]
    if service == "secretsmanager" and "SecretId" in params:
        return [(action, resources.secret(params["SecretId"]))]
    if service == "kms" and "KeyId" in params:
        return [(action, resources.key(params["KeyId"]))]
    return [(action, "*")]


@dataclass(eq=False)
class CallRecorder(Observer):
    """Every permission the functions' calls needed, while the test ran."""

    resources: Resources
    calls: set[Call] = field(default_factory=set)

    def before(self, call: AwsCall) -> None:
        if call.function is None:  # the harness's own call
            return
        service = call.model.service_model.signing_name  # the IAM prefix (dynamodbstreams signs as dynamodb)
        for action, resource in permissions_needed(self.resources, service, call.operation, dict(call.params)):
            self.calls.add(Call(call.function, action, resource))

    def of(self, function: str) -> list[Call]:
        return sorted(c for c in self.calls if c.function == function)


def _cold_secrets(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The handler, each invocation with an empty secrets cache, as in the function's own container."""

    def handle(event: dict[str, Any], context: Any) -> Any:
        from bridge import secrets

        secrets.clear_cache()
        return handler(event, context)

    return handle


@pytest.fixture
def recorder(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> Iterator[CallRecorder]:
    template = bridge.stack.template
    for function, resource in template.functions().items():
        handler = resource["Properties"].get("Handler") or template.raw["Globals"]["Function"]["Handler"]
        attribute = str(handler).rpartition(".")[2]
        module = load_function(template, function)
        monkeypatch.setattr(module, attribute, _cold_secrets(getattr(module, attribute)))
    with observing(CallRecorder(Resources(bridge.stack))) as recorded:
        yield recorded


# ---------------------------------------------------------------------- what the template grants
@dataclass(frozen=True)
class Statement:
    """One inline statement of a function, resolved."""

    function: str
    number: int  # 1-based, in the function's Policies in order
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def allows(self, action: str, resource: str) -> bool:
        return any(_matches(a, action, ignore_case=True) for a in self.actions) and any(
            _matches(r, resource) for r in self.resources
        )


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


@cache
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM wildcards: `*` any run of characters (across `/` and `:`), `?` one character."""
    body = "".join({"*": ".*", "?": "."}.get(c, re.escape(c)) for c in text)
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def _matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return bool(_pattern(pattern, ignore_case).match(value))


def statements(resources: Resources) -> dict[str, list[Statement]]:
    """Every function's inline statements; any other kind of policy cannot be checked and fails the test."""
    found: dict[str, list[Statement]] = {}
    for function, resource in resources.stack.template.functions().items():
        found[function] = []
        for policy in _as_list(resource["Properties"].get("Policies") or []):
            if not (isinstance(policy, dict) and "Statement" in policy and set(policy) <= {"Version", "Statement"}):
                pytest.fail(f"{function}: only inline `Statement` policies can be checked, not {policy!r}")
            for raw in _as_list(policy["Statement"]):
                unsupported = set(raw) - {"Sid", "Effect", "Action", "Resource"}
                if unsupported:
                    pytest.fail(f"{function}: statement keys {sorted(unsupported)} are not checked here: {raw!r}")
                found[function].append(
                    Statement(
                        function,
                        len(found[function]) + 1,
                        str(raw["Effect"]),
                        tuple(str(a) for a in _as_list(raw["Action"])),
                        tuple(resources.resolve(r) for r in _as_list(raw["Resource"])),
                    )
                )
    return found


def allowed(function_statements: Iterable[Statement], call: Call) -> bool:
    listed = list(function_statements)
    return any(s.effect == "Allow" and s.allows(call.action, call.resource) for s in listed) and not any(
        s.effect == "Deny" and s.allows(call.action, call.resource) for s in listed
    )


# ---------------------------------------------------------------------- the flows
def exercise(bridge: Bridge, tenant: TenantSimulator) -> None:
    """Every function through its main flows: webhooks, queries, starts, relay, finaliser."""
    # Webhooks: a single push and its repeat, a batch, AMPECO notifications (security event and its repeat,
    # a new session and an update of it, a second session, a kind the bridge does not handle).
    single = json.dumps(security_event("TamperDetectionActivated", tech_info="lid open")).encode()
    pushed = bridge.push(17, single, webhook_id="msg_least_privilege")
    assert pushed.status == 202, pushed.text
    assert bridge.push(17, single, webhook_id="msg_least_privilege").status == 200
    batch = {"events": [security_event("ResetOrReboot"), security_event("FirmwareUpdated", tech_info="v2")]}
    assert bridge.push(9, batch).status == 202
    security = example("notification_security_event")
    security.update(type="TamperDetectionActivated", chargePointId=77, critical=True)
    raw = json.dumps(security).encode()
    assert bridge.notify(raw).status == 202
    assert bridge.notify(raw).status == 200
    for session_id, delay, updated in (("987654", 30, "2025-11-24T18:20:05Z"), ("987654", 60, "2025-11-24T18:30:05Z")):
        session = example("notification_session_update")
        session["session"].update(id=session_id, randomisedDelay=delay, lastUpdatedAt=updated)
        assert bridge.notify(session).status == 202
    other = example("notification_session_update")
    other["session"].update(id="987655", startedAt="2025-11-24T19:00:00Z")
    assert bridge.notify(other).status == 202
    assert bridge.notify({"notification": "SomeFutureNotification"}).status == 202

    # Queries: both listings unfiltered and filtered, a next page by cursor, both reads, liveness.
    def get(path: str, **query: str) -> Any:
        answer = bridge.request("GET", f"{path}?{urlencode(query)}" if query else path)
        assert answer.status == 200, (path, query, answer.text)
        return answer.json

    first = get(SECURITY_EVENTS, per_page="1")
    assert first["meta"]["next_cursor"], first
    get(SECURITY_EVENTS, per_page="1", cursor=first["meta"]["next_cursor"])
    get(SECURITY_EVENTS, **{"filter[chargePoint]": "17"})
    get(SECURITY_EVENTS, **{"filter[type]": "ResetOrReboot"})
    get(SECURITY_EVENTS, **{"filter[chargePoint]": "9", "filter[type]": "ResetOrReboot"})
    get(f"{SECURITY_EVENTS}/{pushed.json['ids'][0]}")
    first = get(SESSIONS, per_page="1")
    assert first["meta"]["next_cursor"], first
    get(SESSIONS, per_page="1", cursor=first["meta"]["next_cursor"])
    for name, value in (("chargePointId", "1187"), ("evseId", "2301"), ("status", "active"), ("idTag", "FLEET-00042")):
        get(SESSIONS, **{f"filter[{name}]": value})
    get(SESSIONS, **{"filter[chargePointId]": "1187", "filter[status]": "active"})  # the listing table
    get(f"{SESSIONS}/987654")
    get("/health")

    # Starts: without and with an Idempotency-Key (and its replay), a rejection, a retryable tenant error
    # that releases the key, and a completion the store refused, deferred to the finaliser's queue.
    started = bridge.request("POST", CP_START, body={"idTag": "FLEET-1"})
    assert (started.status, started.json["success"]) == (202, True), started.text
    keyed = bridge.request("POST", EVSE_START, body={"idTag": "FLEET-2"}, headers={"Idempotency-Key": "lp-1"})
    replay = bridge.request("POST", EVSE_START, body={"idTag": "FLEET-2"}, headers={"Idempotency-Key": "lp-1"})
    assert (keyed.status, replay.status) == (202, 202), (keyed.text, replay.text)
    assert replay.headers["x-bridge-attempt-id"] == keyed.headers["x-bridge-attempt-id"]
    rejected = bridge.request("POST", CP_START, body={"idTag": "SIM:BILLING_NOT_ASSOCIATED"})
    assert (rejected.status, rejected.json["success"]) == (202, False), rejected.text
    retryable = bridge.request("POST", CP_START, body={"idTag": "SIM:HTTP_503"}, headers={"Idempotency-Key": "lp-2"})
    assert retryable.status >= 500, retryable.text
    with fault("dynamodb", "UpdateItem") as completion_refused:
        deferred = bridge.request("POST", CP_START, body={"idTag": "FLEET-3"})
    assert completion_refused.fired >= 1
    assert deferred.status == 202, deferred.text

    # Relay: every stored event and final start result so far.
    assert bridge.relay() > 0

    # Finaliser: the deferred completion from its queue, then a schedule sweep over a stuck attempt.
    from bridge.models.starts import Attempt, StartPath, StartTarget
    from bridge.storage.attempts import AttemptTable

    sqs = boto3.client("sqs", region_name=REGION)
    queued = sqs.receive_message(QueueUrl=bridge.stack.refs["CompletionsQueue"], MaxNumberOfMessages=10)["Messages"]
    records = [sqs_record(m, bridge.stack.attrs[("CompletionsQueue", "Arn")]) for m in queued]
    assert len(records) == 1
    assert invoke(bridge, "FinaliserFunction", {"Records": records}) == {"batchItemFailures": []}
    # Four starts stuck pending: two on the charge-point path (charge points 12, 13), two on the EVSE path
    # (EVSEs 7701, 7702); the sweep makes them ambiguous.
    stuck_at = datetime.now(UTC) - timedelta(minutes=5)
    targets = {
        "lp-stuck-cp-12": StartTarget(StartPath.CHARGE_POINT, charge_point=12, evse_network_id=3),
        "lp-stuck-evse-7701": StartTarget(StartPath.EVSE, evse_id=7701),
        "lp-stuck-cp-13": StartTarget(StartPath.CHARGE_POINT, charge_point=13, evse_network_id=3),
        "lp-stuck-evse-7702": StartTarget(StartPath.EVSE, evse_id=7702),
    }
    for attempt_id, target in targets.items():
        AttemptTable(bridge.stack.refs["AttemptsTable"]).create(
            Attempt(attempt_id, target, request_body="{}", request_truncated=False, created_at=stuck_at)
        )
    swept = invoke(bridge, "FinaliserFunction", {"source": "aws.events", "detail-type": "Scheduled Event"})
    assert swept == {"finalised": 4}
    assert bridge.relay() == 5  # the deferred result and the four swept ones

    # Resolution: the first two swept starts' sessions arrive by notification (webhooks), the other two's
    # only in the tenant's listing (reconciler); each becomes a correction.
    started = (stuck_at + timedelta(seconds=20)).isoformat()
    for n, (charge_point, evse) in enumerate(((12, 1), (99, 7701))):
        late = example("notification_session_update")
        late["session"].update(id=f"lp-late-{n}", chargePointId=charge_point, evseId=evse, startedAt=started)
        late["session"].pop("idTag", None)
        assert bridge.notify(late).status == 202
    for n, (charge_point, evse) in enumerate(((13, 1), (98, 7702))):
        tenant.records.add_session(
            SimSession(
                session_id=987_650_001 + n,
                authorization_id=1,
                charge_point_id=charge_point,
                evse_id=evse,
                connector_id=1,
                user_id=None,
                id_tag=None,
                started_at=stuck_at + timedelta(seconds=20),
                last_updated_at=datetime.now(UTC),
            )
        )
    assert bridge.reconcile()["sessions"]["failure"] is None
    assert bridge.relay() == 4  # the four corrections

    # Relay: a message SNS keeps refusing past the give-up age is kept for redrive.
    assert bridge.push(5, security_event("MemoryExhaustion")).status == 202
    relay = load_function(bridge.stack.template, "RelayFunction")
    patience = relay.give_up_after
    relay.give_up_after = timedelta(0)
    try:
        with fault("sns", "Publish") as sns_refused:
            assert bridge.relay() == 1
        # A change that old published after all forgets any kept copy of itself.
        assert bridge.push(5, security_event("MemoryExhaustion")).status == 202
        assert bridge.relay() == 1
    finally:
        relay.give_up_after = patience
    assert sns_refused.fired == 1
    assert len(bridge.table_items("UndeliveredTable")) == 1


def invoke(bridge: Bridge, function: str, event: dict[str, Any]) -> Any:
    template = bridge.stack.template
    return handler_invoker(template)(function, event, make_context(template, function))


@pytest.fixture
def exercised(bridge: Bridge, tenant: TenantSimulator, recorder: CallRecorder) -> CallRecorder:
    exercise(bridge, tenant)
    silent = set(bridge.stack.template.functions()) - {c.function for c in recorder.calls}
    assert not silent, f"no AWS call was recorded for {sorted(silent)}: the flows or the recorder are broken"
    return recorder


# ---------------------------------------------------------------------- the checks
def test_every_call_a_function_makes_is_granted_by_its_own_statements(exercised: CallRecorder) -> None:
    resources = exercised.resources
    granted = statements(resources)
    missing = [call for call in sorted(exercised.calls) if not allowed(granted[call.function], call)]
    assert not missing, "calls the functions make that template.yaml does not allow:\n" + "\n".join(
        f"  {c.function}: {c.action} on {c.resource}\n"
        f"    missing statement: {{Effect: Allow, Action: [{c.action}], Resource: {resources.describe(c.resource)}}}"
        for c in missing
    )


def _used(calls: list[Call], action: str, resource: str) -> bool:
    return any(_matches(action, c.action, ignore_case=True) and _matches(resource, c.resource) for c in calls)


def test_no_statement_grants_what_its_function_never_uses(exercised: CallRecorder) -> None:
    """Per statement: each action is used on one of its resources, each resource by one of its actions."""
    resources = exercised.resources
    granted = statements(resources)
    not_local = {(f, a, resources.resolve(r)) for f, a, r in {**AWS_ONLY_GRANTS, **LIBRARY_FALLBACK_GRANTS}}

    # The allow-list stays honest: each entry is still granted, and still not exercised locally.
    for function, action, resource in sorted(not_local):
        assert any(
            s.effect == "Allow" and action in s.actions and resource in s.resources for s in granted[function]
        ), f"the allow-list names a grant template.yaml no longer has: {function} {action} on {resource}"
        assert not _used(exercised.of(function), action, resource), (
            f"allow-listed {function} {action} on {resource} is used locally: drop the entry"
        )

    problems: list[str] = []
    for function, function_statements in granted.items():
        calls = exercised.of(function)

        def used(action: str, resource: str, function: str = function, calls: list[Call] = calls) -> bool:
            return (function, action, resource) in not_local or _used(calls, action, resource)

        for statement in (s for s in function_statements if s.effect == "Allow"):
            where = f"{function} statement {statement.number} ({', '.join(statement.actions)})"
            for action in statement.actions:
                if "*" in action or "?" in action:
                    covered = sorted({c.action for c in calls if _matches(action, c.action, ignore_case=True)})
                    problems.append(f"  {where}: grants {action} by wildcard; the code uses only {covered}")
                elif not any(used(action, r) for r in statement.resources):
                    on = ", ".join(resources.describe(r) for r in statement.resources)
                    problems.append(f"  {where}: {action} is never used on {on}")
            for resource in statement.resources:
                if not any(used(a, resource) for a in statement.actions):
                    problems.append(f"  {where}: {resources.describe(resource)} ({resource}) is never used")
    assert not problems, "grants the functions never use in the exercised flows:\n" + "\n".join(problems)
