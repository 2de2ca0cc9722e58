"""Session listings by every combination of filters: the same pages as one index narrowed by a FilterExpression
(the implementation before the listing table), each page one Query that reads only what it returns plus one
look-ahead; the listing copy follows the session through status changes, faults and races; write units measured.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from bridge import wiring
from bridge.queries import session_listing
from bridge.storage.sessions import COMBINATIONS, EQUALITY_FILTERS, SessionTable
from local.aws import REGION
from local.intercept import Call, Observer, observing
from tests.contract.schemas import assert_valid, example
from tests.harness import Bridge, fault

LISTING = "/public-api/resources/sessions/v1.0"
BASE = datetime(2025, 11, 20, 6, 0, tzinfo=UTC)
TAGS = ("TAG-A", "TAG|B\\", None)  # a separator and an escape in one idTag; none at all
LONG_TAG = "L" * 300  # longer than filter[idTag] takes: stays unindexed
ALL_COMBINATIONS = [c for n in range(len(EQUALITY_FILTERS) + 1) for c in itertools.combinations(EQUALITY_FILTERS, n)]


def update(session_id: str, **fields: Any) -> dict[str, Any]:
    """AMPECO's example SessionUpdateNotification; `idTag=None` leaves the idTag out."""
    body = example("notification_session_update")
    body["session"].update({"id": session_id, **fields})
    if body["session"].get("idTag", "") is None:
        del body["session"]["idTag"]
    return body


def instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------- the seeded set
@dataclass(frozen=True)
class Seeded:
    id: str
    chargePointId: int  # noqa: N815 - the filters' names
    evseId: int  # noqa: N815
    status: str
    idTag: str | None  # noqa: N815
    startedAt: str  # noqa: N815


def seed(bridge: Bridge) -> list[Seeded]:
    """49 sessions: two of every charge point, EVSE, status and idTag (or none), one with an idTag too long to
    index, and twins that share a start time (so the id orders them)."""
    sessions = []
    groups = itertools.product((100, 200), (1, 2), ("active", "finished"), TAGS)
    for n, ((cp, evse, status, tag), twin) in enumerate(itertools.product(groups, (0, 1))):
        started = BASE + timedelta(minutes=37 * (n - twin if cp == 100 and tag is None else n))
        sessions.append(Seeded(str(6000 + n), cp, cp + evse, status, tag, instant(started)))
    sessions.append(Seeded("6100", 100, 101, "active", LONG_TAG, instant(BASE + timedelta(hours=3))))
    for s in sessions:
        fields = {k: v for k, v in dataclasses.asdict(s).items() if k != "id"}
        assert bridge.notify(update(s.id, lastUpdatedAt="2025-11-24T18:20:05Z", **fields)).status == 202
    return sessions


@pytest.fixture
def seeded(bridge: Bridge) -> list[Seeded]:
    return seed(bridge)


def expected(sessions: list[Seeded], filters: dict[str, Any]) -> list[str]:
    """The contract's answer, independently of any index: AND of the filters, newest first, then id descending."""

    def keep(s: Seeded) -> bool:
        for name in EQUALITY_FILTERS:
            if name in filters and str(getattr(s, name)) != str(filters[name]):
                return False
        after, before = filters.get("startedAfter"), filters.get("startedBefore")
        return (after is None or s.startedAt >= after) and (before is None or s.startedAt <= before)

    ordered = sorted(filter(keep, sessions), key=lambda s: (s.startedAt, int(s.id)), reverse=True)
    return [s.id for s in ordered]


WINDOW = {
    "startedAfter": instant(BASE + timedelta(minutes=37 * 9)),
    "startedBefore": instant(BASE + timedelta(hours=20)),
}
ANCHORS = (12, 32)  # inside the window: cp 100, EVSE 102, active, TAG-A / cp 200, EVSE 201, finished, TAG|B\


def filters_for(sessions: list[Seeded], combination: tuple[str, ...], anchor: int) -> dict[str, Any]:
    return {name: getattr(sessions[anchor], name) for name in combination}


# ---------------------------------------------------------------------- reads, counted
@dataclass
class QueryRead:
    function: str | None
    table: str
    index: str | None
    scanned: int
    returned: int
    filtered: bool


@dataclass(eq=False)
class ReadCounter(Observer):
    """Every DynamoDB Query with what DynamoDB says it read (ScannedCount) and returned (Count)."""

    reads: list[QueryRead] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def after(self, call: Call, http_status: int, parsed: dict[str, Any]) -> None:
        if call.service == "dynamodb" and call.operation == "Query" and http_status < 300:
            read = QueryRead(
                call.function,
                str(call.params["TableName"]),
                call.params.get("IndexName"),
                int(parsed["ScannedCount"]),
                int(parsed["Count"]),
                "FilterExpression" in call.params,
            )
            with self._lock:
                self.reads.append(read)

    def take(self) -> list[QueryRead]:
        with self._lock:
            taken, self.reads = self.reads, []
        return taken


@pytest.fixture
def reads() -> Iterator[ReadCounter]:
    with observing(ReadCounter()) as counter:
        yield counter


def params(filters: dict[str, Any], per_page: int, cursor: str | None = None) -> dict[str, str]:
    query = {f"filter[{k}]": str(v) for k, v in filters.items()} | {"per_page": str(per_page)}
    return query | ({"cursor": cursor} if cursor else {})


def pages_over_http(bridge: Bridge, filters: dict[str, Any], per_page: int, reads: ReadCounter) -> list[Any]:
    """Every page of the listing as a client gets it, each with the Queries its handler made."""
    pages: list[Any] = []
    cursor = None
    while True:
        answer = bridge.request("GET", f"{LISTING}?{urlencode(params(filters, per_page, cursor))}")
        assert answer.status == 200, answer.text
        assert_valid("sessions_listing", answer.json)
        pages.append((answer.json, reads.take()))
        cursor = answer.json["meta"]["next_cursor"]
        if not cursor:
            return pages


def pages_before(bridge: Bridge, filters: dict[str, Any], per_page: int, base_url: str) -> list[Any]:
    """The same listing by the implementation before the listing table: one index, the other filters narrowing."""
    deps = dataclasses.replace(
        wiring.queries(), sessions=SessionTable(bridge.stack.refs["SessionsTable"], notifications_table="")
    )
    pages: list[Any] = []
    cursor = None
    while True:
        body = session_listing(deps, params(filters, per_page, cursor), base_url)
        pages.append(body)
        cursor = body["meta"]["next_cursor"]
        if not cursor:
            return pages


@pytest.mark.parametrize("window", [{}, WINDOW], ids=["no window", "window"])
@pytest.mark.parametrize("per_page", [2, 100])
def test_every_combination_lists_what_the_narrowed_index_listed_reading_only_what_it_returns(
    bridge: Bridge, seeded: list[Seeded], reads: ReadCounter, per_page: int, window: dict[str, str]
) -> None:
    for combination, anchor in itertools.product(ALL_COMBINATIONS, ANCHORS):
        filters = filters_for(seeded, combination, anchor) | window
        reads.take()

        # When a client pages through the listing
        pages = pages_over_http(bridge, filters, per_page, reads)

        # Then it gets what the contract says, page for page what the narrowed index gave (cursors included)
        ids = [s["id"] for body, _ in pages for s in body["data"]]
        assert ids == expected(seeded, filters), filters
        base_url = pages[0][0]["meta"]["path"].removesuffix(LISTING)
        assert [body for body, _ in pages] == pages_before(bridge, filters, per_page, base_url), filters
        # And each page is one Query, on the listing table for two filters or more, that read what it returned
        # plus at most one look-ahead, with nothing filtered out
        for body, queries in pages:
            [query] = queries
            assert query.function == "QueriesFunction"
            assert query.table == ("SessionListingTable" if len(combination) >= 2 else "SessionsTable")
            assert not query.filtered
            assert query.returned == query.scanned <= len(body["data"]) + 1, (filters, query)
        assert seeded[anchor].id in ids  # the anchor has its own values: no combination is tested empty


def test_a_combination_that_matches_nothing_reads_nothing(
    bridge: Bridge, seeded: list[Seeded], reads: ReadCounter
) -> None:
    [(body, [query])] = pages_over_http(bridge, {"chargePointId": 100, "evseId": 201}, 10, reads)
    assert body["data"] == []
    assert (query.index, query.scanned) == ("byChargePointEvse", 0)


def test_an_id_tag_too_long_to_index_is_in_no_id_tag_combination(bridge: Bridge, seeded: list[Seeded]) -> None:
    body = bridge.request("GET", f"{LISTING}?{urlencode(params({'chargePointId': 100, 'status': 'active'}, 100))}")
    assert "6100" in [s["id"] for s in body.json["data"]]
    assert [r for r in listed_copies(bridge) if r["sessionId"]["S"] == "6100" and "kct" in r] == []


# ---------------------------------------------------------------------- the copy follows the session
def listed_copies(bridge: Bridge) -> list[dict[str, Any]]:
    return bridge.table_items("SessionListingTable")


def ids(bridge: Bridge, **filters: Any) -> list[str]:
    answer = bridge.request("GET", f"{LISTING}?{urlencode(params(filters, 100))}")
    assert answer.status == 200, answer.text
    return [s["id"] for s in answer.json["data"]]


def assert_copy_is_the_session(bridge: Bridge) -> None:
    """Every session has exactly one listing copy, of its own version and document, and no copy is left over."""
    sessions = {i["sessionId"]["S"]: i for i in bridge.table_items("SessionsTable")}
    copies = {i["sessionId"]["S"]: i for i in listed_copies(bridge)}
    assert set(copies) == set(sessions)
    for session_id, item in sessions.items():
        for name in ("version", "document", "sessionStatus", "startedKey", "chargePointId", "evseId"):
            assert copies[session_id][name] == item[name], (session_id, name)


STATUS_COMBINATIONS = [c for c in COMBINATIONS if "status" in c]


def test_a_status_change_moves_the_session_between_combinations(bridge: Bridge) -> None:
    # Given an active session, listed under every combination with status active
    bridge.notify(update("987654", status="active", lastUpdatedAt="2025-11-24T18:20:05Z"))
    values = {"chargePointId": 1187, "evseId": 2301, "idTag": "FLEET-00042"}
    for combination in STATUS_COMBINATIONS:
        assert ids(bridge, **{n: values.get(n, "active") for n in combination}) == ["987654"]

    # When it finishes
    bridge.notify(update("987654", status="finished", lastUpdatedAt="2025-11-24T19:00:00Z"))

    # Then it is listed as finished only: nothing stale under active
    for combination in STATUS_COMBINATIONS:
        assert ids(bridge, **{n: values.get(n, "active") for n in combination}) == [], combination
        assert ids(bridge, **{n: values.get(n, "finished") for n in combination}) == ["987654"], combination
    assert len(listed_copies(bridge)) == 1
    assert_copy_is_the_session(bridge)


def test_an_id_tag_that_goes_away_leaves_the_id_tag_combinations(bridge: Bridge) -> None:
    bridge.notify(update("987654", idTag="FLEET-1", lastUpdatedAt="2025-11-24T18:20:05Z"))
    assert ids(bridge, chargePointId=1187, idTag="FLEET-1") == ["987654"]

    bridge.notify(update("987654", idTag=None, lastUpdatedAt="2025-11-24T18:30:05Z"))

    assert ids(bridge, chargePointId=1187, idTag="FLEET-1") == []
    assert ids(bridge, chargePointId=1187, evseId=2301) == ["987654"]
    assert_copy_is_the_session(bridge)


def test_an_older_notification_moves_nothing(bridge: Bridge) -> None:
    bridge.notify(update("987654", status="finished", lastUpdatedAt="2025-11-24T19:00:00Z"))
    bridge.notify(update("987654", status="active", lastUpdatedAt="2025-11-24T18:20:05Z"))

    assert ids(bridge, chargePointId=1187, status="active") == []
    assert ids(bridge, chargePointId=1187, status="finished") == ["987654"]
    assert_copy_is_the_session(bridge)


def test_start_stop_notifications_keep_the_copy_with_the_session(bridge: Bridge) -> None:
    start_stop = example("notification_session_start_stop")
    bridge.notify(start_stop | {"lastUpdatedAt": "2025-11-24T18:02:12Z"})
    stop = {"action": "stop", "stoppedAtTimestamp": "2025-11-24T19:00:00Z", "lastUpdatedAt": "2025-11-24T19:00:01Z"}
    bridge.notify(start_stop | stop)

    session_id = str(start_stop["sessionId"])
    assert ids(bridge, chargePointId=start_stop["chargePointId"], status="finished") == [session_id]
    assert_copy_is_the_session(bridge)


def test_concurrent_out_of_order_deliveries_leave_the_copy_of_the_newest(bridge: Bridge) -> None:
    minutes = list(range(10, 22))
    bodies = [
        update("987654", energy=m, status="finished" if m % 2 else "active", lastUpdatedAt=f"2025-11-24T18:{m:02d}:00Z")
        for m in reversed(minutes)
    ]
    barrier = threading.Barrier(len(bodies))

    def deliver(body: dict[str, Any]) -> None:
        barrier.wait()
        assert bridge.notify(body).status == 202

    threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert_copy_is_the_session(bridge)
    assert ids(bridge, chargePointId=1187, status="finished") == ["987654"]  # minute 21's
    assert ids(bridge, chargePointId=1187, status="active") == []


# ---------------------------------------------------------------------- the fault between the writes
def test_a_function_that_fails_after_the_write_leaves_a_complete_index_and_the_retry_repairs_nothing(
    bridge: Bridge,
) -> None:
    # Given a listed active session
    bridge.notify(update("987654", status="active", lastUpdatedAt="2025-11-24T18:20:05Z"))
    finished = json.dumps(update("987654", status="finished", lastUpdatedAt="2025-11-24T19:00:00Z")).encode()

    # When the status change is written and the function then fails (the answer of its write is lost)
    with fault("dynamodb", "TransactWriteItems", kind="answer_lost", times=1) as lost:
        failed = bridge.notify(finished)
    assert lost.fired == 1
    assert failed.status >= 500

    # Then the listing already says finished under every combination: the copy was in the same write
    assert ids(bridge, chargePointId=1187, status="active") == []
    assert ids(bridge, chargePointId=1187, evseId=2301, status="finished", idTag="FLEET-00042") == ["987654"]
    assert_copy_is_the_session(bridge)

    # And AMPECO's redelivery is a duplicate that changes nothing
    [before] = listed_copies(bridge)
    assert bridge.notify(finished).status == 200
    assert listed_copies(bridge) == [before]


@pytest.mark.parametrize("kind", ["internal", "throttle", "timeout", "conflict"])
def test_a_write_that_fails_changes_neither_the_session_nor_its_copy_until_the_retry(bridge: Bridge, kind: str) -> None:
    bridge.notify(update("987654", status="active", lastUpdatedAt="2025-11-24T18:20:05Z"))
    finished = json.dumps(update("987654", status="finished", lastUpdatedAt="2025-11-24T19:00:00Z")).encode()

    with fault("dynamodb", "TransactWriteItems", kind=kind, times=4) as refused:
        assert bridge.notify(finished).status in (429, 503)
    assert refused.fired >= 1

    assert ids(bridge, chargePointId=1187, status="active") == ["987654"]
    assert_copy_is_the_session(bridge)
    assert bridge.notify(finished).status == 202
    assert ids(bridge, chargePointId=1187, status="finished") == ["987654"]
    assert_copy_is_the_session(bridge)


# ---------------------------------------------------------------------- backfill
def test_sessions_stored_before_the_listing_table_are_copied_once(bridge: Bridge, seeded: list[Seeded]) -> None:
    # Given sessions whose copies are missing (stored before the table existed)
    client = boto3.client("dynamodb", region_name=REGION)
    table = bridge.stack.refs["SessionListingTable"]
    for item in listed_copies(bridge):
        client.delete_item(TableName=table, Key={"sessionId": item["sessionId"]})
    assert ids(bridge, chargePointId=100, status="active") == []
    store = SessionTable(bridge.stack.refs["SessionsTable"], notifications_table="", listing_table=table)

    # When the backfill runs page by page, while one session changes
    copied, after = store.copy_to_listing(limit=10)
    bridge.notify(update("6047", status="active", lastUpdatedAt="2025-11-24T19:00:00Z", **_fields(seeded[47])))
    while after:
        more, after = store.copy_to_listing(limit=10, after=after)
        copied += more

    # Then every session is listed again, the changed one as it is now, and a second run copies nothing
    assert copied == len(seeded) - 1  # the changed session's own transaction wrote its copy first
    assert_copy_is_the_session(bridge)
    assert ids(bridge, chargePointId=100, status="active") == expected(
        seeded, {"chargePointId": 100, "status": "active"}
    )
    assert store.copy_to_listing(limit=100) == (0, None)


def _fields(s: Seeded) -> dict[str, Any]:
    return {"chargePointId": s.chargePointId, "evseId": s.evseId, "idTag": s.idTag, "startedAt": s.startedAt}


# ---------------------------------------------------------------------- write units
def _size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        digits = str(inner).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _size(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + _size(v) for v in inner)
    raise ValueError(kind)


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names and values."""
    return sum(len(name.encode()) + _size(value) for name, value in item.items())


def units(size: int) -> int:
    return math.ceil(size / 1024)


@dataclass(frozen=True)
class Gsi:
    name: str
    keys: tuple[str, ...]
    projection: str
    non_key: tuple[str, ...]

    def entry(self, item: dict[str, Any] | None, table_keys: tuple[str, ...]) -> dict[str, Any] | None:
        if item is None or not all(k in item for k in self.keys):
            return None  # sparse: not in this index
        if self.projection == "ALL":
            return item
        kept = {*table_keys, *self.keys, *(self.non_key if self.projection == "INCLUDE" else ())}
        return {k: v for k, v in item.items() if k in kept}


class WriteMeter(Observer):
    """The items each write of the webhooks function names, and whether a transaction wrote them."""

    def __init__(self, tables: dict[str, str]) -> None:
        self._tables = tables  # physical -> logical
        self.written: list[tuple[str, dict[str, Any], bool]] = []  # (logical table, the Put's item, transactional)

    def before(self, call: Call) -> None:
        if call.service != "dynamodb" or call.function != "WebhooksFunction":
            return
        if call.operation == "TransactWriteItems":
            for entry in call.params["TransactItems"]:
                ((kind, request),) = entry.items()
                assert kind == "Put", kind
                self.written.append((self._tables[request["TableName"]], request["Item"], True))
        elif call.operation == "PutItem":
            self.written.append((self._tables[call.params["TableName"]], call.params["Item"], False))
        else:
            assert call.operation in {"GetItem", "Query"}, call.operation


def _schema(bridge: Bridge, table: str) -> tuple[tuple[str, ...], list[Gsi]]:
    props = bridge.stack.template.resources[table]["Properties"]
    keys = tuple(k["AttributeName"] for k in props["KeySchema"])
    gsis = [
        Gsi(
            g["IndexName"],
            tuple(k["AttributeName"] for k in g["KeySchema"]),
            g["Projection"]["ProjectionType"],
            tuple(g["Projection"].get("NonKeyAttributes", [])),
        )
        for g in props.get("GlobalSecondaryIndexes", [])
    ]
    return keys, gsis


def write_units(bridge: Bridge, body: dict[str, Any]) -> dict[str, int]:
    """What one notification's writes cost as DynamoDB bills them: per table, the item (the larger of the old and
    the new, doubled in a transaction) and each GSI entry (a put, a rewrite, or a delete and a put when its key
    changed; nothing when its entry is unchanged), each rounded up to 1 KB."""
    before = {t: _by_key(bridge, t) for t in ("SecurityEventsTable", "SessionsTable", "SessionListingTable")}
    meter = WriteMeter({bridge.stack.refs[t]: t for t in before})
    with observing(meter):
        assert bridge.notify(body).status == 202
    cost: dict[str, int] = {}
    for table, item, transactional in meter.written:
        keys, gsis = _schema(bridge, table)
        key = tuple(json.dumps(item[k], sort_keys=True) for k in keys)
        old = before[table].get(key)
        cost[f"{table} item"] = cost.get(f"{table} item", 0) + units(max(item_size(item), item_size(old or {}))) * (
            2 if transactional else 1
        )
        for gsi in gsis:
            was, now = gsi.entry(old, keys), gsi.entry(item, keys)
            if was == now:
                continue
            moved = was is not None and now is not None and any(was[k] != now[k] for k in gsi.keys)
            spent = (units(item_size(was)) if was is not None and (moved or now is None) else 0) + (
                units(item_size(now)) if now is not None else 0
            )
            cost[f"{table} GSIs"] = cost.get(f"{table} GSIs", 0) + spent
    return cost


def _by_key(bridge: Bridge, table: str) -> dict[tuple[str, ...], dict[str, Any]]:
    keys, _ = _schema(bridge, table)
    return {tuple(json.dumps(i[k], sort_keys=True) for k in keys): i for i in bridge.table_items(table)}


def test_write_units_per_session_write(bridge: Bridge, capsys: pytest.CaptureFixture[str]) -> None:
    # Given AMPECO's example session (a 506-byte document: the session item is 754 bytes, its copy 959)
    first = update("987654", lastUpdatedAt="2025-11-24T18:20:05Z")
    same_keys = update("987654", energy=4420, power={"latest": 7000}, lastUpdatedAt="2025-11-24T18:40:05Z")
    finished = update(
        "987654", status="finished", stoppedAt="2025-11-24T19:00:00Z", lastUpdatedAt="2025-11-24T19:00:01Z"
    )

    costs = {
        label: write_units(bridge, body)
        for label, body in (("first", first), ("update", same_keys), ("status", finished))
    }
    with capsys.disabled():
        for label, cost in costs.items():
            print(f"\nwrite units, {label}: {sum(cost.values())} {cost}")

    # Then, for the session (the delivery's record is the notifications' own business):
    # the session item 1 KB and its copy 1 KB, each doubled by the transaction (4); the sessions table's five
    # ALL-projection GSIs (5) and the listing table's 11 (11) rewritten with the document, which changed; a status
    # change moves byStatus (+1) and the 7 combinations with status (+7): a delete and a put each.
    session_side = {
        label: {k: v for k, v in cost.items() if not k.startswith("SecurityEventsTable")}
        for label, cost in costs.items()
    }
    assert session_side["first"] == {
        "SessionsTable item": 2,
        "SessionsTable GSIs": 5,
        "SessionListingTable item": 2,
        "SessionListingTable GSIs": 11,
    }
    assert session_side["update"] == session_side["first"]
    assert session_side["status"] == {
        "SessionsTable item": 2,
        "SessionsTable GSIs": 6,
        "SessionListingTable item": 2,
        "SessionListingTable GSIs": 18,
    }
