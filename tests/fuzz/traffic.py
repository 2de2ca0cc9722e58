"""Generated requests for every endpoint: bodies from the contract schemas plus mutations, odd ids and queries.

A `Case` is what to send and how (signed, unsigned, keyless...); `send` sends it through the real handlers.
Webhook signatures are made at send time, so their timestamps are fresh.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import hypothesis.strategies as st

from bridge.models.security_events import CRITICAL_TYPES
from tests.fuzz.bodies import body_of, push_event
from tests.fuzz.documents import json_documents, mutated, weighted
from tests.harness import Answer, Bridge

MAX_BODY = 256 * 1024

START_ON_CHARGE_POINT = "POST /public-api/actions/charge-point/v1.0/{chargePoint}/start/{evse}"
START_ON_EVSE = "POST /public-api/actions/evse/v1.0/{evse}/start"
SESSIONS = "GET /public-api/resources/sessions/v1.0"
SESSION = "GET /public-api/resources/sessions/v1.0/{session}"
SECURITY_EVENTS = "GET /public-api/resources/security-events/v2.0"
SECURITY_EVENT = "GET /public-api/resources/security-events/v2.0/{securityEvent}"
NOTIFICATIONS = "POST /webhooks/ampeco"
PUSHES = "POST /webhooks/charge-points/{chargePoint}/security-events"
HEALTH = "GET /health"


@dataclass(frozen=True, repr=False)
class Case:
    """One request: the endpoint it targets (for the tally), how it is sent, and what it carries."""

    endpoint: str
    variant: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    api_key: bool = True
    charge_point: str = ""  # pushes: the path's id, signed for at send time
    webhook_id: str = ""
    secret: str | None = None  # pushes signed with a secret that is not the bridge's
    token: str | None = None  # notifications signed with a token that is not the tenant's

    @property
    def how(self) -> str:
        """How it is sent (the variant without the body's mutation)."""
        return self.variant.split("/", 1)[0]

    @property
    def method(self) -> str:
        return self.endpoint.split(" ", 1)[0]

    @property
    def url(self) -> str:
        return self.path + ("?" + urlencode(self.query) if self.query else "")

    @property
    def must_be_acknowledged(self) -> bool:
        """A correctly signed AMPECO notification within the size cap, whatever it holds."""
        return self.endpoint == NOTIFICATIONS and self.how in ("signed", "signed-base64") and self._within_cap

    @property
    def _within_cap(self) -> bool:
        return len(self.body or b"") <= MAX_BODY

    def __repr__(self) -> str:
        """Short enough for a failure report: a body is cut to its first 300 bytes."""
        body = self.body or b""
        shown = body[:300] + (f"... ({len(body)} bytes)".encode() if len(body) > 300 else b"")
        signed = f" charge_point={self.charge_point!r} webhook_id={self.webhook_id!r}" if self.charge_point else ""
        return f"<{self.method} {self.url!r} [{self.variant}]{signed} headers={self.headers} body={shown!r}>"


def send(bridge: Bridge, case: Case) -> Answer:
    """Through API Gateway's event shape to the route's handler, signed as the variant says."""
    if case.endpoint == PUSHES and case.how in ("signed", "signed-other-secret"):
        options: dict[str, Any] = {"webhook_id": case.webhook_id, "headers": case.headers}
        if case.secret:
            options["secret"] = case.secret
        return bridge.push(case.charge_point, case.body or b"", **options)
    if case.endpoint == NOTIFICATIONS and case.how in ("signed", "signed-base64", "wrong-token"):
        encoding = "base64" if case.how == "signed-base64" else "hex"
        options = {"encoding": encoding, "headers": case.headers}
        if case.token:
            options["token"] = case.token
        return bridge.notify(case.body or b"", **options)
    return bridge.request(case.method, case.url, body=case.body, headers=case.headers, api_key=case.api_key)


# ---------------------------------------------------------------------- pieces
def _routable(raw: str) -> bool:
    # API Gateway hands over one decoded path segment: never empty, never a slash (and the harness's URL
    # parsing drops tabs and line breaks, as WHATWG URLs do).
    return bool(raw) and not any(c in raw for c in "/?#\t\r\n")


numeric_ids = st.integers(1, 2**53 - 1).map(str)
odd_ids = (
    st.text(max_size=25)
    | st.text(st.characters(categories=["Nd"]), min_size=1, max_size=20)
    | st.integers(-(2**64), 2**64).map(str)
    | st.sampled_from(["0", "012", "9007199254740992", "1e3", "1.0", "+1", " 1", "\uff19", "\u0661\u0662", "\u00b2"])
).filter(_routable)
path_ids = weighted((2, numeric_ids), (1, odd_ids))
# Where the body is the point, an odd path id would only hide it behind a 422.
body_path_ids = weighted((5, numeric_ids), (1, odd_ids))

offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))
instants = st.one_of(
    st.datetimes(timezones=offsets).map(lambda moment: moment.isoformat()),
    st.datetimes(timezones=offsets).map(
        lambda moment: moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ),
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59.999999Z",
            "9999-12-31T23:59:59-01:00",
            "2026-11-25T10:00:00",
            "2026-11-25T10:00:00 01:00",
            "1969-12-31T23:59:59.999999Z",
            "2100-01-01T00:00:00Z",
        ]
    ),
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
odd_query_keys = st.sampled_from(
    ["filter", "filter[", "filter[]", "filter[x]", "include[]", "page", "withAuthorization"]
)


@st.composite
def queries(draw: st.DrawFn, known: dict[str, st.SearchStrategy[str]]) -> list[tuple[str, str]]:
    """Query pairs: known parameters with good or junk values, unknown keys, repeats (the last one wins)."""
    keys = st.sampled_from(sorted(known) or [""]) | odd_query_keys | st.text(max_size=12)
    pairs = []
    for _ in range(draw(st.integers(0, 5))):
        key = draw(keys)
        good = known.get(key, st.text(max_size=20))
        pairs.append((key, draw(weighted((3, good), (1, st.text(max_size=40)), (1, path_ids), (1, instants)))))
    return pairs


@st.composite
def body(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> tuple[str, bytes]:
    """A mutated body; `SIM:` id tags are renamed so the tenant simulator answers at once."""
    mutation, raw = draw(mutated(documents))
    return mutation, raw.replace(b"SIM:", b"SIX:")


# ---------------------------------------------------------------------- endpoints
@st.composite
def starts(draw: st.DrawFn) -> Case:
    mutation, raw = draw(body(body_of("start_request")))
    variant = draw(st.sampled_from(["keyed", "keyed", "keyed", "keyless"]))
    headers = {}
    if draw(st.booleans()):
        headers["Idempotency-Key"] = draw(st.sampled_from(["k1", "k2"]) | header_text.filter(bool))
    if draw(st.booleans()):
        path = f"/public-api/actions/charge-point/v1.0/{draw(body_path_ids)}/start/{draw(body_path_ids)}"
        endpoint = START_ON_CHARGE_POINT
    else:
        path, endpoint = f"/public-api/actions/evse/v1.0/{draw(body_path_ids)}/start", START_ON_EVSE
    sent = draw(st.sampled_from([None, b"", *[raw] * 8]))  # no body and an empty one are valid starts too
    return Case(endpoint, f"{variant}/{mutation}", path, body=sent, headers=headers, api_key=variant == "keyed")


NOTIFICATION_SCHEMAS = (
    "notification_security_event",
    "notification_session_update",
    "notification_session_start_stop",
    "notification_session_start_stop_deprecated",
)


@st.composite
def notifications(draw: st.DrawFn) -> Case:
    schema = draw(st.sampled_from(NOTIFICATION_SCHEMAS))
    mutation, raw = draw(body(body_of(schema)))
    variant = draw(st.sampled_from(["signed", "signed", "signed", "signed-base64", "unsigned", "wrong-token", "junk"]))
    headers = {}
    if draw(st.booleans()):
        headers["X-Timestamp"] = draw(header_text)
    if variant == "wrong-token":
        return Case(NOTIFICATIONS, "wrong-token", "/webhooks/ampeco", body=raw, token="not-the-token")
    if variant == "junk":
        headers["X-Signature"] = draw(header_text)
    return Case(NOTIFICATIONS, f"{variant}/{mutation}", "/webhooks/ampeco", body=raw, headers=headers)


push_documents = push_event() | st.lists(push_event(), min_size=0, max_size=4).map(lambda events: {"events": events})


@st.composite
def pushes(draw: st.DrawFn) -> Case:
    mutation, raw = draw(body(push_documents))
    charge_point = draw(body_path_ids)
    path = f"/webhooks/charge-points/{charge_point}/security-events"
    variant = draw(st.sampled_from(["signed", "signed", "signed", "signed-other-secret", "unsigned", "junk"]))
    webhook_id = draw(st.sampled_from(["msg_1", "msg_2"]) | st.uuids().map(lambda u: f"msg_{u.hex}"))
    if variant == "signed-other-secret":
        key = draw(st.binary(min_size=16, max_size=32))
        secret = "whsec_" + base64.b64encode(key).decode()
        return Case(
            PUSHES,
            f"{variant}/{mutation}",
            path,
            body=raw,
            charge_point=charge_point,
            webhook_id=webhook_id,
            secret=secret,
        )
    headers = {}
    if variant == "junk":
        names = st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature"])
        headers = draw(st.dictionaries(names, header_text))
    return Case(
        PUSHES,
        f"{variant}/{mutation}",
        path,
        body=raw,
        headers=headers,
        charge_point=charge_point,
        webhook_id=webhook_id,
    )


security_event_filters = {
    "filter[type]": st.sampled_from(sorted(CRITICAL_TYPES)),
    "filter[chargePoint]": numeric_ids,
    "filter[timestampFrom]": instants,
    "filter[timestampTo]": instants,
    "per_page": st.integers(0, 101).map(str),
    "cursor": st.text(max_size=60) | st.just(""),
}
session_filters = {
    "filter[chargePointId]": numeric_ids,
    "filter[evseId]": numeric_ids,
    "filter[status]": st.sampled_from(["unknown", "pending", "active", "finished", "failed", "expired"]),
    "filter[idTag]": st.text(max_size=30),
    "filter[startedAfter]": instants,
    "filter[startedBefore]": instants,
    "per_page": st.integers(0, 101).map(str),
    "cursor": st.text(max_size=60) | st.just(""),
}


@st.composite
def reads(draw: st.DrawFn) -> Case:
    """Listings, single reads and the health check, with and without a key."""
    variant = draw(st.sampled_from(["keyed", "keyed", "keyed", "keyless"]))
    endpoint = draw(st.sampled_from([SECURITY_EVENTS, SECURITY_EVENT, SESSIONS, SESSION, HEALTH]))
    query: list[tuple[str, str]] = []
    if endpoint == SECURITY_EVENTS:
        path, query = "/public-api/resources/security-events/v2.0", draw(queries(security_event_filters))
    elif endpoint == SESSIONS:
        path, query = "/public-api/resources/sessions/v1.0", draw(queries(session_filters))
    elif endpoint == SECURITY_EVENT:
        path = f"/public-api/resources/security-events/v2.0/{draw(path_ids)}"
    elif endpoint == SESSION:
        path = f"/public-api/resources/sessions/v1.0/{draw(path_ids)}"
    else:
        path, query = "/health", draw(queries({}))
    body = draw(st.none() | json_documents().map(lambda d: repr(d).encode()))  # a GET with a body is still a GET
    return Case(endpoint, variant, path, query=query, body=body, api_key=variant == "keyed")
