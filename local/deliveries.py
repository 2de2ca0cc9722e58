"""Records every SNS message this process publishes, in order: the local view of what subscribers get."""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from local.intercept import Call, Observer, add_observer, remove_observer
from local.stack import Stack

_PUBLISH_OPERATIONS = {"Publish", "PublishBatch"}
_install_lock = threading.Lock()
_active: Deliveries | None = None


def topic_short_name(logical_id: str) -> str:
    """`SecurityEventsTopic` -> `security-events`: the suffix dropped, kebab-case."""
    stem = logical_id.removesuffix("Topic") or logical_id
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", stem).lower()


def flatten_attributes(attributes: dict[str, Any] | None) -> dict[str, str]:
    """SNS MessageAttributes as `name: "value"` strings (Binary values base64)."""
    flat: dict[str, str] = {}
    for name, attribute in (attributes or {}).items():
        if "StringValue" in attribute:
            flat[name] = str(attribute["StringValue"])
        elif "BinaryValue" in attribute:
            value = attribute["BinaryValue"]
            flat[name] = base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else str(value)
    return flat


def _parse_body(message: str, structure: str | None) -> Any:
    if structure == "json":
        # Per-protocol messages: subscribers without their own entry get `default`.
        message = json.loads(message).get("default", message)
    try:
        return json.loads(message)
    except (TypeError, ValueError):
        return message


class Deliveries(Observer):
    """Thread-safe record of `{topic, messageId, attributes, body}` for every SNS publish that succeeded.

    An observer of every AWS call (local.intercept): messages are kept in the order their publishes were
    answered, which for one caller is the order it published them.
    """

    def __init__(self, topics: dict[str, str] | None = None) -> None:
        self._topics = dict(topics or {})  # topic ARN -> short name
        self._messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    @classmethod
    def install(cls, stack: Stack) -> Deliveries:
        """Record publishes of every boto3 client, present or future; replaces an earlier recorder."""
        global _active
        topics = {
            stack.refs[name]: topic_short_name(name)
            for name in stack.template.of_type("AWS::SNS::Topic")
            if name in stack.refs
        }
        recorder = cls(topics)
        with _install_lock:
            if _active is not None:
                remove_observer(_active)
            _active = recorder
            add_observer(recorder)
        return recorder

    def uninstall(self) -> None:
        """Stop recording into this instance."""
        global _active
        with _install_lock:
            remove_observer(self)
            if _active is self:
                _active = None

    def after(self, call: Call, http_status: int, parsed: dict[str, Any]) -> None:
        if call.service == "sns" and call.operation in _PUBLISH_OPERATIONS and http_status < 300:
            self.record(call.operation, call.params, parsed)

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def topics(self) -> list[str]:
        """The short names of the stack's topics: what `?topic=` takes."""
        return sorted(set(self._topics.values()))

    def listing(self, query: Sequence[tuple[str, str]]) -> tuple[int, Any]:
        """`GET /_local/deliveries[?topic=...]`: every message, or those of the topics named (the parameter may
        repeat); 422 `{message, errors}` naming the topics for an unknown one, or any other parameter."""
        topics = self.topics()
        wanted = {value for name, value in query if name == "topic"}
        problems: dict[str, list[str]] = {}
        if unknown := sorted(wanted - set(topics)):
            problems["topic"] = [f"Unknown topic {', '.join(map(repr, unknown))}; the topics are {', '.join(topics)}."]
        for name in sorted({name for name, _ in query} - {"topic"}):
            problems[name] = [f"Unknown parameter {name!r}; the only one is topic ({', '.join(topics)})."]
        if problems:
            return 422, {"message": next(iter(problems.values()))[0], "errors": problems}
        return 200, [message for message in self.all() if not wanted or message["topic"] in wanted]

    def topic_name(self, arn: str) -> str:
        """The short name of a topic ARN; topics outside the stack by the same rule from the ARN's name."""
        return self._topics.get(arn) or topic_short_name(arn.rsplit(":", 1)[-1])

    def record(self, operation: str, params: Mapping[str, Any], response: dict[str, Any]) -> None:
        """Add the messages of one successful Publish or PublishBatch call."""
        arn = str(params.get("TopicArn") or params.get("TargetArn") or "")
        if operation == "Publish":
            entries = [(params, response.get("MessageId"))]
        else:
            ids = {ok["Id"]: ok.get("MessageId") for ok in response.get("Successful", [])}
            entries = [(e, ids[e["Id"]]) for e in params.get("PublishBatchRequestEntries", []) if e["Id"] in ids]
        with self._lock:
            for entry, message_id in entries:
                self._messages.append(
                    {
                        "topic": self.topic_name(arn),
                        "messageId": message_id,
                        "attributes": flatten_attributes(entry.get("MessageAttributes")),
                        "body": _parse_body(entry.get("Message", ""), entry.get("MessageStructure")),
                    }
                )
