"""Phase three: items read per item returned, for every filter combination of both listings, at 10k and 100k items.

Each table is seeded with the items the real storage adapters (as the webhooks function wires them) write for
pushes and session notifications, built by their own mapping (`event_item`, `session_item`, and whatever else
a write puts, such as a listing copy; delivery records left out), caught before they leave and written straight
into moto with BatchWriteItem, 25 items a call; no handler runs. The data: background items whose values are
drawn independently, over 200 charge points (4 EVSEs each), the critical types, every session status, 2,000
idTags plus one frequent one (1% of sessions) and two years; plus 150 items that meet every filter at once (one
charge point, EVSE, type, status and the frequent idTag, inside the time window), so every combination has a full
first page at both sizes while the background grows tenfold. The first page (per_page 100) of each combination
goes through the real queries handler; items read are the ScannedCount of its Queries (and any items it reads by
key), less the one look-ahead item a page reads when there is a next page.
"""

from __future__ import annotations

import copy
import json
import random
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local import bench_moto
from local.aws import REGION, in_memory_aws
from local.bench_events import SECRETS, SECURITY_EVENTS_PATH, SESSIONS_PATH, TYPES, Events, Handlers, Request
from local.bench_probe import Probe
from local.bench_report import Progress, amplification, combination_name, filter_combinations
from local.bench_units import table_shapes
from local.intercept import observing
from local.lambda_runtime import apply_environment
from local.stack import Stack

SIZES = (10_000, 100_000)
HOT = 150  # items meeting every filter: more than a page at every size
CHARGE_POINTS = 200
ID_TAGS = 2_000
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
WINDOW = (START + timedelta(days=182), START + timedelta(days=547))
HOT_CHARGE_POINT, HOT_EVSE, HOT_TYPE, HOT_STATUS, HOT_TAG = 7, 70, "TamperDetectionActivated", "finished", "BENCH-HOT"
FREQUENT_TAG_SHARE = 0.01  # the filtered idTag is a frequent driver's: 1% of all other sessions too
PER_PAGE = 100
BATCH = 25


@dataclass
class Reading:
    """One combination's first page at one size."""

    items_read: int
    returned: int
    look_ahead: int

    @property
    def amplification(self) -> float:
        return amplification(self.items_read, self.returned, self.look_ahead)


@dataclass
class Listing:
    """A listing's combinations: readings by size."""

    name: str
    dimensions: list[str]
    readings: dict[str, dict[int, Reading]] = field(default_factory=dict)
    error: str = ""


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _moment(rng: random.Random, window: bool) -> datetime:
    low, high = (WINDOW[0], WINDOW[1]) if window else (START, START + SPAN)
    return low + timedelta(microseconds=rng.randrange(int((high - low).total_seconds() * 1_000_000)))


class CapturingClient:
    """A DynamoDB client for the storage adapters that writes nothing: it keeps the items they put.

    Reads find nothing (every seeded item is new). Only puts are expected: the seed creates items.
    """

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []

    def put_item(self, **request: Any) -> dict[str, Any]:
        self.items.append((request["TableName"], request["Item"]))
        return {}

    def transact_write_items(self, **request: Any) -> dict[str, Any]:
        for entry in request["TransactItems"]:
            if "Put" not in entry:
                raise NotImplementedError(f"the seed creates items; the storage asked for {sorted(entry)}")
            self.put_item(**entry["Put"])
        return {}

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def query(self, **_: Any) -> dict[str, Any]:
        return {"Items": [], "Count": 0, "ScannedCount": 0}

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        """What was put since the last take, less delivery records (dedup marks, not listing data)."""
        taken, self.items = self.items, []
        return [(table, item) for table, item in taken if item.get("kind", {}).get("S") != "notification"]


def _writer(adapter: Any, client: CapturingClient) -> Any:
    """A copy of a storage adapter as the webhooks function wires it, writing to `client`."""
    if not hasattr(adapter, "_client"):
        raise TypeError(f"{type(adapter).__name__} keeps no client the bench can replace")
    copy_ = copy.copy(adapter)
    copy_._client = client
    return copy_


def security_event_items(count: int, hot: int, rng: random.Random) -> Iterator[tuple[str, dict[str, Any]]]:
    """What the storage writes for pushed events: `hot` meeting every filter, the rest spread (pushes of 100)."""
    from bridge import wiring
    from bridge.security_events import ingest_push

    client = CapturingClient()
    store = _writer(wiring.webhooks().events, client)
    drafts: dict[int, list[dict[str, Any]]] = {}
    for n in range(count):
        hot_one = n < hot
        charge_point = HOT_CHARGE_POINT if hot_one else rng.randrange(1, CHARGE_POINTS + 1)
        event_type = HOT_TYPE if hot_one else rng.choice(TYPES)
        at = _moment(rng, hot_one)
        drafts.setdefault(charge_point, []).append({"type": event_type, "timestamp": _iso(at), "techInfo": f"seed {n}"})
    for charge_point, events in drafts.items():
        for start in range(0, len(events), 100):
            body = json.dumps({"events": events[start : start + 100]}).encode()
            ingest_push(store, charge_point, f"msg_{uuid.uuid4().hex}", body)
            yield from client.take()


def session_items(count: int, hot: int, rng: random.Random, first_id: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """What the storage writes for sessions created by SessionUpdateNotifications."""
    from bridge import wiring
    from bridge.models.notifications import Delivery, NotificationStatus
    from bridge.models.sessions import SessionStatus
    from bridge.sessions import apply_notification, session_from_notification

    client = CapturingClient()
    store = _writer(wiring.webhooks().sessions, client)
    statuses = [s for s in typing.get_args(SessionStatus) if isinstance(s, str)] or [HOT_STATUS]
    now = datetime.now(UTC)
    for n in range(count):
        hot_one = n < hot
        charge_point = HOT_CHARGE_POINT if hot_one else rng.randrange(1, CHARGE_POINTS + 1)
        session = {
            "id": first_id + n,
            "chargePointId": charge_point,
            "evseId": HOT_EVSE if hot_one else charge_point * 10 + rng.randrange(4),
            "connectorId": 1,
            "status": HOT_STATUS if hot_one else rng.choice(statuses),
            "startedAt": _iso(_moment(rng, hot_one)),
            "idTag": HOT_TAG if hot_one or rng.random() < FREQUENT_TAG_SHARE else f"TAG-{rng.randrange(ID_TAGS)}",
            "energy": rng.randrange(100_000),
        }
        body = json.dumps({"notification": "SessionUpdateNotification", "session": session}).encode()
        notification, problem = session_from_notification(body, "SessionUpdateNotification")
        if notification is None:
            raise ValueError(f"a seeded session was refused: {problem}")
        delivery = Delivery(body, uuid.uuid4().hex, now, None, None)
        apply_notification(
            store, notification, delivery.record("SessionUpdateNotification", NotificationStatus.PROCESSED)
        )
        yield from client.take()


def filter_values() -> dict[str, dict[str, str]]:
    """The value each filter is given, per listing (every one met by the hot items)."""
    return {
        "security_events": {
            "type": HOT_TYPE,
            "chargePoint": str(HOT_CHARGE_POINT),
            "timestampFrom": _iso(WINDOW[0]),
            "timestampTo": _iso(WINDOW[1]),
        },
        "sessions": {
            "chargePointId": str(HOT_CHARGE_POINT),
            "evseId": str(HOT_EVSE),
            "status": HOT_STATUS,
            "idTag": HOT_TAG,
            "startedAfter": _iso(WINDOW[0]),
            "startedBefore": _iso(WINDOW[1]),
        },
    }


def measure(progress: Progress) -> list[Listing]:
    """Both listings, every combination, at each size."""
    from bridge.models.listing import SECURITY_EVENT_FILTERS, SESSION_FILTERS

    values = filter_values()
    listings = [
        Listing("security_events", [f for f in SECURITY_EVENT_FILTERS if f in values["security_events"]]),
        Listing("sessions", [f for f in SESSION_FILTERS if f in values["sessions"]]),
    ]
    paths = {"security_events": SECURITY_EVENTS_PATH, "sessions": SESSIONS_PATH}
    with in_memory_aws():
        bench_moto.install()
        stack = Stack.create(secrets=SECRETS)
        apply_environment(stack)
        from bridge import secrets

        secrets.clear_cache()
        events, handlers = Events(stack), Handlers(stack)
        probe = Probe(table_shapes(stack.template.resources))
        seeded = {listing.name: 0 for listing in listings}
        rngs = {listing.name: random.Random(n) for n, listing in enumerate(listings)}
        for size in SIZES:
            for listing in listings:
                if listing.error:
                    continue
                try:
                    count = size - seeded[listing.name]
                    hot = HOT if not seeded[listing.name] else 0
                    rng = rngs[listing.name]
                    if listing.name == "security_events":
                        items = security_event_items(count, hot, rng)
                    else:
                        items = session_items(count, hot, rng, first_id=seeded[listing.name] + 1)
                    written = _seed(items, f"{count:,} more {listing.name}", progress)
                    seeded[listing.name] = size
                    combinations = 2 ** len(listing.dimensions)
                    progress(
                        f"listing: {listing.name} at {size:,} ({written:,} items written), {combinations} combinations"
                    )
                    with observing(probe):
                        _read_all(
                            listing, size, values[listing.name], paths[listing.name], events, handlers, probe, progress
                        )
                except Exception as exc:  # the other listing's figures still count
                    listing.error = f"{type(exc).__name__}: {exc}"
    return listings


def _seed(items: Iterator[tuple[str, dict[str, Any]]], label: str, progress: Progress) -> int:
    """BatchWriteItem, 25 items a call (of any tables), straight into moto."""
    import boto3
    from botocore.config import Config

    client = boto3.client("dynamodb", region_name=REGION, config=Config(parameter_validation=False))
    written = 0
    batch: list[tuple[str, dict[str, Any]]] = []
    with bench_moto.bulk_loading():
        for entry in items:
            batch.append(entry)
            if len(batch) == BATCH:
                written += _write(client, batch)
                batch = []
                progress(f"listing: seeding {label}: {written:,} items written", every=4)
        if batch:
            written += _write(client, batch)
    return written


def _write(client: Any, batch: list[tuple[str, dict[str, Any]]]) -> int:
    request: dict[str, list[dict[str, Any]]] = {}
    for table, item in batch:
        request.setdefault(table, []).append({"PutRequest": {"Item": item}})
    while request:
        request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    return len(batch)


def _read_all(
    listing: Listing,
    size: int,
    values: dict[str, str],
    path: str,
    events: Events,
    handlers: Handlers,
    probe: Probe,
    progress: Progress,
) -> None:
    combinations = filter_combinations(listing.dimensions)
    for number, combo in enumerate(combinations, 1):
        progress(f"listing: {listing.name} at {size:,}: combination {number} of {len(combinations)}", every=4)
        query = [(f"filter[{name}]", values[name]) for name in combo] + [("per_page", str(PER_PAGE))]
        request: Request = events.api("GET", path, query)
        probe.reset()
        result = handlers(request)
        tally = probe.reset()
        if result.get("statusCode") != 200:
            raise RuntimeError(f"{combination_name(combo)}: {result.get('statusCode')} {str(result.get('body'))[:200]}")
        body = json.loads(result["body"])
        more = 1 if (body.get("meta") or {}).get("next_cursor") or (body.get("links") or {}).get("next") else 0
        reading = Reading(tally.items_read, len(body["data"]), more)
        listing.readings.setdefault(combination_name(combo), {})[size] = reading
