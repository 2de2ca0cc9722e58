"""The botocore interception layer (local/intercept.py) and its fault observer (local/faults.py), on moto."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from local.aws import REGION, in_memory_aws
from local.faults import KINDS, fault
from local.intercept import Call, Observer, OperationCounter, observing
from tests.harness import Bridge, security_event

TABLE = "intercept-test"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    """A client and one empty table (key `pk`, a string), in a fresh in-memory account."""
    with in_memory_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def put(client: Any, key: str, **extra: Any) -> Any:
    return client.put_item(TableName=TABLE, Item={"pk": {"S": key}}, **extra)


def stored(client: Any) -> set[str]:
    return {item["pk"]["S"] for item in client.scan(TableName=TABLE)["Items"]}


def transaction(client: Any, *keys: str) -> Any:
    items = [{"Put": {"TableName": TABLE, "Item": {"pk": {"S": key}}}} for key in keys]
    return client.transact_write_items(TransactItems=items)


# ---------------------------------------------------------------------- each kind
ERRORS = {
    "throttle": ("ProvisionedThroughputExceededException", 400),
    "internal": ("InternalServerError", 500),
    "conditional": ("ConditionalCheckFailedException", 400),
    "conflict": ("TransactionConflictException", 400),
}


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_an_error_kind_is_raised_as_the_clients_modeled_exception_and_nothing_is_written(
    dynamodb: Any, kind: str
) -> None:
    code, status = ERRORS[kind]
    with fault("dynamodb", "PutItem", kind=kind) as injected, pytest.raises(ClientError) as raised:
        put(dynamodb, "a")
    assert injected.fired == 1
    assert type(raised.value) is getattr(dynamodb.exceptions, code)  # what `except client.exceptions.X` catches
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert stored(dynamodb) == set()


def test_timeout_is_a_read_timeout_before_the_call_reaches_aws(dynamodb: Any) -> None:
    with fault("dynamodb", "PutItem", kind="timeout") as injected, pytest.raises(ReadTimeoutError):
        put(dynamodb, "a")
    assert injected.fired == 1
    assert stored(dynamodb) == set()


def test_answer_lost_raises_a_read_timeout_but_the_write_took_effect(dynamodb: Any) -> None:
    with fault("dynamodb", "PutItem", kind="answer_lost") as injected, pytest.raises(ReadTimeoutError):
        put(dynamodb, "a")
    assert injected.fired == 1
    assert stored(dynamodb) == {"a"}


def test_answer_lost_leaves_a_refused_call_alone(dynamodb: Any) -> None:
    # Only a success can lose its answer: a refused write took no effect.
    put(dynamodb, "a")
    with (
        fault("dynamodb", "PutItem", kind="answer_lost") as injected,
        pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException),
    ):
        put(dynamodb, "a", ConditionExpression="attribute_not_exists(pk)")
    assert injected.fired == 0


@pytest.mark.parametrize(
    ("kind", "reason"), [("conditional", "ConditionalCheckFailed"), ("conflict", "TransactionConflict")]
)
def test_a_cancelled_transaction_gives_one_reason_per_item(dynamodb: Any, kind: str, reason: str) -> None:
    with (
        fault("dynamodb", "TransactWriteItems", kind=kind) as injected,
        pytest.raises(dynamodb.exceptions.TransactionCanceledException) as raised,
    ):
        transaction(dynamodb, "a", "b", "c")
    assert injected.fired == 1
    assert [r["Code"] for r in raised.value.response["CancellationReasons"]] == [reason] * 3
    assert stored(dynamodb) == set()


def test_throttling_is_named_as_each_protocol_names_it(dynamodb: Any) -> None:
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="intercept-test")["TopicArn"]
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="intercept-test")["QueueUrl"]
    with fault("sns", "Publish", kind="throttle") as on_sns, pytest.raises(ClientError) as sns_error:
        sns.publish(TopicArn=topic, Message="m")
    with fault("sqs", "SendMessage", kind="throttle") as on_sqs, pytest.raises(ClientError) as sqs_error:
        sqs.send_message(QueueUrl=queue, MessageBody="m")
    assert (on_sns.fired, on_sqs.fired) == (1, 1)
    assert sns_error.value.response["Error"]["Code"] == "Throttling"  # a query-protocol service
    assert sqs_error.value.response["Error"]["Code"] == "ThrottlingException"


def test_every_kind_is_covered_here() -> None:
    assert set(KINDS) == {*ERRORS, "timeout", "answer_lost"}


# ---------------------------------------------------------------------- matching and counting
def test_times_fails_only_the_first_matching_calls(dynamodb: Any) -> None:
    outcomes = []
    with fault("dynamodb", "PutItem", times=2) as injected:
        for n in range(4):
            try:
                put(dynamodb, f"k{n}")
                outcomes.append("ok")
            except ClientError:
                outcomes.append("failed")
    assert outcomes == ["failed", "failed", "ok", "ok"]
    assert injected.fired == 2
    assert stored(dynamodb) == {"k2", "k3"}


def test_times_is_exact_under_concurrent_calls(dynamodb: Any) -> None:
    failures: list[str] = []

    def write(n: int) -> None:
        try:
            put(dynamodb, f"k{n}")
        except ClientError:
            failures.append(f"k{n}")

    with fault("dynamodb", "PutItem", times=3) as injected:
        threads = [threading.Thread(target=write, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert injected.fired == len(failures) == 3
    assert len(stored(dynamodb)) == 9


def test_the_predicate_sees_the_callers_api_params(dynamodb: Any) -> None:
    # Finding 4: a predicate on TableName must match; before-call's own params are the serialised request.
    seen: list[Mapping[str, Any]] = []

    def on_this_table(params: Mapping[str, Any]) -> bool:
        seen.append(params)
        return params.get("TableName") == TABLE

    with (
        fault("dynamodb", "UpdateItem", lambda p: p.get("TableName") == "another-table") as elsewhere,
        fault("dynamodb", "UpdateItem", on_this_table) as here,
        pytest.raises(ClientError),
    ):
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET n = :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    assert (elsewhere.fired, here.fired) == (0, 1)
    assert seen == [
        {
            "TableName": TABLE,
            "Key": {"pk": {"S": "a"}},
            "UpdateExpression": "SET n = :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    ]


def test_other_operations_and_services_are_left_alone(dynamodb: Any) -> None:
    with fault("dynamodb", "DeleteItem") as other_operation, fault("dynamodbstreams", "PutItem") as other_service:
        put(dynamodb, "a")
    assert (other_operation.fired, other_service.fired) == (0, 0)
    assert stored(dynamodb) == {"a"}


def test_observers_are_gone_after_the_block(dynamodb: Any) -> None:
    counter = OperationCounter("dynamodb")
    with fault("dynamodb", "PutItem") as injected, observing(counter), pytest.raises(ClientError):
        put(dynamodb, "a")
    put(dynamodb, "b")
    assert injected.fired == 1
    assert counter.counts == Counter({"PutItem": 1})
    assert stored(dynamodb) == {"b"}


def test_every_observer_sees_a_call_a_fault_failed(dynamodb: Any) -> None:
    # Counters and the least-privilege recorder must not miss calls, whatever order observers came in.
    counter = OperationCounter("dynamodb")
    with fault("dynamodb", "PutItem", kind="timeout") as injected, observing(counter), pytest.raises(ReadTimeoutError):
        put(dynamodb, "a")
    assert injected.fired == 1
    assert counter.counts == Counter({"PutItem": 1})


def test_only_one_fault_fails_a_call(dynamodb: Any) -> None:
    with (
        fault("dynamodb", "PutItem") as first,
        fault("dynamodb", "PutItem", kind="throttle") as second,
        pytest.raises(ClientError) as raised,
    ):
        put(dynamodb, "a")
    assert (first.fired, second.fired) == (1, 0)
    assert raised.value.response["Error"]["Code"] == "InternalServerError"


def test_observers_see_calls_from_every_thread(dynamodb: Any) -> None:
    counter = OperationCounter("dynamodb")
    with observing(counter):
        worker = threading.Thread(target=put, args=(dynamodb, "a"))
        worker.start()
        worker.join(timeout=10)
    assert counter.counts == Counter({"PutItem": 1})


# ---------------------------------------------------------------------- attribution and deliveries
class Attribution(Observer):
    def __init__(self) -> None:
        self.calls: list[tuple[str | None, str, str]] = []
        self._lock = threading.Lock()

    def before(self, call: Call) -> None:
        with self._lock:
            self.calls.append((call.function, call.service, call.operation))


def test_calls_are_attributed_to_the_function_whose_handler_made_them(bridge: Bridge) -> None:
    webhooks = bridge.route("POST", "/webhooks/charge-points/1/security-events")[0].function
    [relay] = {s.function for s in bridge.stack.template.stream_sources() if s.table == "SecurityEventsTable"}
    with observing(Attribution()) as attribution:
        assert bridge.push(7, security_event("FirmwareUpdated")).status == 202
        bridge.table_items("SecurityEventsTable")
        assert bridge.relay() >= 1
    calls = attribution.calls
    assert any(function == webhooks and service == "dynamodb" for function, service, _ in calls), calls
    assert (None, "dynamodb", "Scan") in calls  # the harness's own read
    assert {function for function, service, _ in calls if service == "sns"} == {relay}
    assert {function for function, service, _ in calls if service == "dynamodbstreams"} <= {None}  # the pump's polling


def test_deliveries_keep_publishes_that_took_effect_only(bridge: Bridge) -> None:
    sns = boto3.client("sns", region_name=REGION)
    topic = bridge.stack.refs["SecurityEventsTopic"]
    bridge.deliveries.clear()
    with fault("sns", "Publish") as refused, pytest.raises(ClientError):
        sns.publish(TopicArn=topic, Message='{"n": 1}')
    with fault("sns", "Publish", kind="answer_lost") as lost, pytest.raises(ReadTimeoutError):
        sns.publish(TopicArn=topic, Message='{"n": 2}')
    assert (refused.fired, lost.fired) == (1, 1)
    assert [d["body"] for d in bridge.deliveries.all()] == [{"n": 2}]
