"""The local run's own parts: HTTP adapter, API Gateway events, SNS delivery record, stream pump."""

from __future__ import annotations

import base64
import copy
import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from local.aws import REGION, in_memory_aws
from local.deliveries import Deliveries, topic_short_name
from local.event_filter import record_matches
from local.lambda_runtime import FakeLambdaContext, api_gateway_event, apply_environment
from local.server import MAX_BODY_BYTES, BridgeServer
from local.stack import Stack
from local.streams import StreamPump
from local.template import StreamSource, TemplateModel

API_KEY = "test-local-key"
LISTING = "/public-api/resources/security-events/v2.0"


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    """A stand-in for the functions: records every invocation and answers with `answer`."""

    answer: Callable[[str, dict[str, Any]], Any] = lambda _fn, _event: None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, function: str, event: dict[str, Any], context: FakeLambdaContext) -> Any:
        assert context.get_remaining_time_in_millis() > 0
        with self.lock:
            self.calls.append((function, event))
        return self.answer(function, event)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """One stack for the module (building one takes a third of a second); tests leave no state behind
    that another reads: pumps skip records written before them."""
    with in_memory_aws():
        built = Stack.create()
        apply_environment(built)
        yield built


@pytest.fixture(scope="module")
def deliveries(stack: Stack) -> Iterator[Deliveries]:
    recorder = Deliveries.install(stack)
    yield recorder
    recorder.uninstall()


def _serve(stack: Stack, deliveries: Deliveries | None = None, invoke: Recorder | None = None) -> BridgeServer:
    server = BridgeServer(stack, stack.template, 0, API_KEY, deliveries=deliveries, invoke=invoke)
    server.start()
    return server


@pytest.fixture(scope="module")
def server(stack: Stack, deliveries: Deliveries) -> Iterator[BridgeServer]:
    running = _serve(stack, deliveries)
    yield running
    running.stop()


@pytest.fixture
def stubbed() -> Iterator[Callable[[Stack, Recorder], BridgeServer]]:
    """A server whose functions are a Recorder: tests the adapter without the handlers."""
    started: list[BridgeServer] = []

    def make(stack: Stack, recorder: Recorder) -> BridgeServer:
        started.append(_serve(stack, invoke=recorder))
        return started[-1]

    yield make
    for running in started:
        running.stop()


def request(
    server: BridgeServer, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# ---------------------------------------------------------------------- API Gateway events
def test_api_gateway_event_has_rest_api_proxy_shape() -> None:
    event = api_gateway_event(
        "post",
        "/webhooks/charge-points/7/security-events",
        "/webhooks/charge-points/{chargePoint}/security-events",
        {"chargePoint": "7"},
        [("filter[type]", "A"), ("filter[type]", "B"), ("cursor", "")],
        [("Content-Type", "application/json"), ("X-Api-Key", "k"), ("x-multi", "1"), ("X-Multi", "2")],
        b'{"a": 1}',
        api_key_id="key-id",
    )
    assert event["httpMethod"] == "POST"
    assert event["resource"] == "/webhooks/charge-points/{chargePoint}/security-events"
    assert event["pathParameters"] == {"chargePoint": "7"}
    assert event["queryStringParameters"] == {"filter[type]": "B", "cursor": ""}
    assert event["multiValueQueryStringParameters"] == {"filter[type]": ["A", "B"], "cursor": [""]}
    assert event["headers"]["x-multi"] == "2"
    assert event["multiValueHeaders"]["x-multi"] == ["1", "2"]
    assert event["headers"]["X-Forwarded-Proto"] == "https"
    assert event["headers"]["Host"].endswith(".execute-api.us-east-1.amazonaws.com")
    assert event["body"] == '{"a": 1}'
    assert event["isBase64Encoded"] is False
    assert event["stageVariables"] is None
    context = event["requestContext"]
    assert context["stage"] == "v1"
    assert context["path"] == "/v1/webhooks/charge-points/7/security-events"
    assert context["resourcePath"] == event["resource"]
    assert context["httpMethod"] == "POST"
    assert context["identity"]["apiKey"] == "k"
    assert context["identity"]["apiKeyId"] == "key-id"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"]


def test_api_gateway_event_without_query_body_or_key() -> None:
    event = api_gateway_event("GET", "/health", "/health", None, [], {"Host": "h.example"}, b"\xff\x00")
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00"
    assert event["requestContext"]["identity"]["apiKey"] is None
    assert event["requestContext"]["domainName"] == "h.example"
    assert api_gateway_event("GET", "/health", "/health", None, [], {}, None)["body"] is None


# ---------------------------------------------------------------------- HTTP adapter
def test_unknown_path_is_404(server: BridgeServer) -> None:
    reply = request(server, "GET", "/nope")
    assert reply.status == 404
    assert reply.json == {"message": "Not found."}


def test_undeclared_method_is_405_with_allow(server: BridgeServer) -> None:
    reply = request(server, "POST", "/health", body=b"{}")
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET"
    assert "message" in reply.json


@pytest.mark.parametrize(
    "method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "QUERY", "BREW"]
)
@pytest.mark.parametrize("path", ["/health", "/nope", LISTING, "/_local/deliveries"])
def test_no_method_gets_a_5xx(server: BridgeServer, method: str, path: str) -> None:
    assert request(server, method, path).status < 500


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"X-API-KEY": API_KEY + "x"}])
def test_key_required_route_refuses_missing_or_wrong_key(server: BridgeServer, headers: dict[str, str]) -> None:
    reply = request(server, "GET", LISTING, headers=headers)
    assert reply.status == 403
    assert reply.json == {"message": "Forbidden"}


def test_health_reaches_the_real_handler(server: BridgeServer) -> None:
    assert request(server, "GET", "/health").status == 200


def test_request_becomes_an_api_gateway_event(stack: Stack, stubbed: Callable[..., BridgeServer]) -> None:
    recorder = Recorder(
        answer=lambda _fn, _event: {
            "statusCode": 201,
            "headers": {"X-One": "1", "Set-Cookie": "ignored"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": base64.b64encode(b"\x00binary").decode(),
            "isBase64Encoded": True,
        }
    )
    server = stubbed(stack, recorder)
    reply = request(
        server,
        "GET",
        LISTING + "/ev%2042?filter%5Btype%5D=FirmwareUpdated&cursor=&a=1&a=2",
        headers={"x-api-key": API_KEY, "X-Forwarded-Proto": "https"},
    )
    assert reply.status == 201
    assert reply.body == b"\x00binary"
    assert reply.headers["X-One"] == "1"
    assert reply.headers.get_all("Set-Cookie") == ["a=1", "b=2"]

    ((function, event),) = recorder.calls
    assert function == "QueriesFunction"
    assert event["resource"] == LISTING + "/{securityEvent}"
    assert event["path"] == LISTING + "/ev 42"
    assert event["pathParameters"] == {"securityEvent": "ev 42"}
    assert event["multiValueQueryStringParameters"] == {
        "filter[type]": ["FirmwareUpdated"],
        "cursor": [""],
        "a": ["1", "2"],
    }
    assert event["requestContext"]["stage"] == "v1"
    assert event["requestContext"]["path"] == event["path"]  # served without a stage prefix
    assert event["headers"]["Host"] == f"127.0.0.1:{server.port}"
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["requestContext"]["identity"]["apiKey"] == API_KEY
    assert event["requestContext"]["identity"]["apiKeyId"]


def test_open_route_event_has_no_api_key_and_carries_the_body(
    stack: Stack, stubbed: Callable[..., BridgeServer]
) -> None:
    recorder = Recorder(answer=lambda _fn, _event: {"statusCode": 202, "body": '{"ok": true}'})
    server = stubbed(stack, recorder)
    reply = request(server, "POST", "/webhooks/ampeco", headers={"Content-Type": "application/json"}, body=b'{"n": 1}')
    assert reply.status == 202
    assert reply.headers["Content-Type"] == "application/json"
    ((function, event),) = recorder.calls
    assert function == "WebhooksFunction"
    assert event["body"] == '{"n": 1}'
    assert event["requestContext"]["identity"]["apiKeyId"] is None


@pytest.mark.parametrize("answer", [RuntimeError("boom"), {"body": "no status"}, "not a dict"])
def test_handler_failure_is_502(stack: Stack, stubbed: Callable[..., BridgeServer], answer: Any) -> None:
    def fail(_fn: str, _event: dict[str, Any]) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    reply = request(stubbed(stack, Recorder(answer=fail)), "GET", "/health")
    assert reply.status == 502
    assert reply.json == {"message": "Internal server error"}


def test_body_over_api_gateway_limit_is_413(stack: Stack, stubbed: Callable[..., BridgeServer]) -> None:
    recorder = Recorder()
    server = stubbed(stack, recorder)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.putrequest("POST", "/webhooks/ampeco")
        connection.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert "message" in json.loads(response.read())
    finally:
        connection.close()
    assert recorder.calls == []


# ---------------------------------------------------------------------- SNS deliveries
def test_topic_short_names() -> None:
    assert topic_short_name("SecurityEventsTopic") == "security-events"
    assert topic_short_name("StartResultsTopic") == "start-results"


def test_local_deliveries_lists_publishes_in_order(server: BridgeServer, stack: Stack, deliveries: Deliveries) -> None:
    deliveries.clear()
    assert request(server, "GET", "/_local/deliveries").json == []
    sns = boto3.client("sns", region_name=REGION)
    topic = stack.refs["SecurityEventsTopic"]
    sns.publish(
        TopicArn=topic,
        Message=json.dumps({"eventType": "security.event", "eventId": "e1"}),
        MessageAttributes={
            "type": {"DataType": "String", "StringValue": "FirmwareUpdated"},
            "chargePoint": {"DataType": "Number", "StringValue": "7"},
        },
    )
    sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[{"Id": "a", "Message": '{"n": 2}'}, {"Id": "b", "Message": "plain"}],
    )
    listed = request(server, "GET", "/_local/deliveries").json
    assert [item["body"] for item in listed] == [{"eventType": "security.event", "eventId": "e1"}, {"n": 2}, "plain"]
    first = listed[0]
    assert first["topic"] == "security-events"
    assert first["attributes"] == {"type": "FirmwareUpdated", "chargePoint": "7"}
    assert first["messageId"]


# ---------------------------------------------------------------------- stream pump
def _source(stack: Stack) -> StreamSource:
    return next(s for s in stack.template.stream_sources() if s.table == "SecurityEventsTable")


def _put(stack: Stack, sk: int, kind: str = "securityEvent") -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=stack.refs["SecurityEventsTable"],
        Item={
            "pk": {"S": f"test#{uuid.uuid4().hex}"},
            "sk": {"N": str(sk)},
            "kind": {"S": kind},
            "raw": {"B": b"\x01"},
        },
    )


def _pump(stack: Stack, recorder: Recorder, template_model: TemplateModel | None = None) -> StreamPump:
    """A pump past every record earlier tests wrote (as if started at LATEST); `recorder` sees the rest."""
    answer = recorder.answer
    recorder.answer = lambda _fn, _event: None
    pump = StreamPump(stack, template_model or stack.template, recorder)
    pump.drain()
    recorder.answer = answer
    recorder.calls.clear()
    return pump


def _records(recorder: Recorder, function: str) -> list[list[dict[str, Any]]]:
    return [event["Records"] for fn, event in recorder.calls if fn == function]


def test_pump_delivers_filtered_records_in_lambda_shape(stack: Stack) -> None:
    recorder = Recorder()
    source = _source(stack)
    pump = _pump(stack, recorder)
    _put(stack, 1)
    _put(stack, 2, kind="notification")
    assert pump.drain() == 1
    ((record,),) = _records(recorder, source.function)
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventVersion"] == "1.1"
    assert record["awsRegion"] == REGION
    assert record["eventSourceARN"] == stack.attrs[("SecurityEventsTable", "StreamArn")]
    dynamodb = record["dynamodb"]
    assert set(dynamodb["Keys"]) == {"pk", "sk"}
    assert dynamodb["Keys"]["sk"] == {"N": "1"}
    assert dynamodb["NewImage"]["kind"] == {"S": "securityEvent"}
    assert dynamodb["NewImage"]["raw"] == {"B": "AQ=="}
    assert isinstance(dynamodb["ApproximateCreationDateTime"], float)
    assert dynamodb["SequenceNumber"]
    json.dumps(record)  # exactly what Lambda could have sent
    assert pump.drain() == 0


def test_pump_retries_from_first_failed_record(stack: Stack) -> None:
    source = _source(stack)
    failed_once: list[str] = []

    def answer(_fn: str, event: dict[str, Any]) -> Any:
        for record in event["Records"]:
            if record["dynamodb"]["Keys"]["sk"]["N"] == "2" and not failed_once:
                failed_once.append(record["dynamodb"]["SequenceNumber"])
                return {"batchItemFailures": [{"itemIdentifier": failed_once[0]}]}
        return {"batchItemFailures": []}

    recorder = Recorder(answer=answer)
    pump = _pump(stack, recorder)
    for sk in (1, 2, 3):
        _put(stack, sk)
    assert pump.drain() == 3
    first, retry = _records(recorder, source.function)
    assert [r["dynamodb"]["Keys"]["sk"]["N"] for r in first] == ["1", "2", "3"]
    assert [r["dynamodb"]["Keys"]["sk"]["N"] for r in retry] == ["2", "3"]
    assert pump.failed == []


def _with_max_retries(stack: Stack, function: str, retries: int) -> TemplateModel:
    """The template with one function's stream retries capped (the relay's own retry without limit)."""
    raw = copy.deepcopy(stack.template.raw)
    for event in raw["Resources"][function]["Properties"]["Events"].values():
        if event["Type"] == "DynamoDB":
            event["Properties"]["MaximumRetryAttempts"] = retries
    return TemplateModel(raw)


def test_pump_gives_up_after_max_retries_and_reports(stack: Stack) -> None:
    template_model = _with_max_retries(stack, _source(stack).function, 2)
    source = next(s for s in template_model.stream_sources() if s.table == "SecurityEventsTable")

    def boom(_fn: str, _event: dict[str, Any]) -> Any:
        raise RuntimeError("handler down")

    recorder = Recorder(answer=boom)
    pump = _pump(stack, recorder, template_model)
    _put(stack, 1)
    assert pump.drain() == 0
    assert len(_records(recorder, source.function)) == source.max_retries + 1
    (failed,) = pump.failed
    assert failed.function == source.function
    assert failed.metadata["DDBStreamBatchInfo"]["batchSize"] == 1
    sqs = boto3.client("sqs", region_name=REGION)
    got = sqs.receive_message(QueueUrl=stack.refs["RelayFailures"])["Messages"]
    info = json.loads(got[0]["Body"])["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == failed.records[0]["dynamodb"]["SequenceNumber"]
    assert info["streamArn"] == stack.attrs[("SecurityEventsTable", "StreamArn")]


def test_pump_thread_delivers_in_background(stack: Stack) -> None:
    recorder = Recorder()
    pump = _pump(stack, recorder)
    pump.start()
    try:
        _put(stack, 1)
        wait_for(lambda: len(recorder.calls) == 1)
    finally:
        pump.stop()


# ---------------------------------------------------------------------- event filters
RECORD = {"eventName": "INSERT", "dynamodb": {"NewImage": {"kind": {"S": "securityEvent"}, "n": 5}, "tags": ["a", "b"]}}


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["securityEvent"]}}}}, True),
        ({"eventName": ["MODIFY"]}, False),
        ({"dynamodb": {"OldImage": [{"exists": False}]}}, True),
        ({"dynamodb": {"OldImage": {"kind": [{"exists": False}]}}}, True),
        ({"dynamodb": {"NewImage": [{"exists": True}]}}, False),  # an object is not a leaf
        ({"dynamodb": {"NewImage": {"kind": {"S": [{"exists": True}]}}}}, True),
        ({"eventName": [{"anything-but": ["REMOVE"]}]}, True),
        ({"eventName": [{"anything-but": "INSERT"}]}, False),
        ({"eventName": [{"prefix": "INS"}]}, True),
        ({"eventName": [{"anything-but": {"prefix": "INS"}}]}, False),
        ({"dynamodb": {"NewImage": {"n": [{"numeric": [">", 1, "<=", 5]}]}}}, True),
        ({"dynamodb": {"tags": ["b"]}}, True),
        ({"dynamodb": {"tags": ["c"]}}, False),
    ],
)
def test_event_filter_syntax(pattern: dict[str, Any], matches: bool) -> None:
    assert record_matches([json.dumps(pattern)], RECORD) is matches


def test_any_filter_may_match_and_none_passes_all() -> None:
    assert record_matches([], RECORD)
    assert record_matches(['{"eventName": ["MODIFY"]}', '{"eventName": ["INSERT"]}'], RECORD)
