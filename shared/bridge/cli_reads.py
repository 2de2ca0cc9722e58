"""`bridge` read commands: security events, start attempts, sessions, quarantined notifications, and an
offline signature check. Each is one Query on a key or index made for it (or a read by id).

    bridge events list [--charge-point N] [--type T] [--since T] [--until T] [--limit N]
    bridge events get ID
    bridge attempts get ATTEMPT_ID
    bridge attempts list (--charge-point N | --evse N) [--since T] [--until T] [--error-code C] [--outcome O]
    bridge sessions list [--charge-point N | --evse N | --status S | --id-tag T] [--limit N]
    bridge sessions get ID
    bridge notifications quarantined [--since T] [--until T] [--limit N]
    bridge notifications show FINGERPRINT
    bridge verify push --secret whsec_... --charge-point N (or --master) --id I --timestamp S --signature H BODY_FILE
    bridge verify ampeco --token T --signature H BODY_FILE
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.models.starts import charge_point_key, evse_key

if TYPE_CHECKING:
    from bridge.cli import Target

Rows = list[dict[str, Any]]
DEFAULT_WINDOW = timedelta(days=1)


# ---------------------------------------------------------------------- commands
def events_list(args: argparse.Namespace, target: Target) -> Rows:
    from bridge.responses import security_event_resource
    from bridge.security_events import event_query, list_events
    from bridge.storage.security_events import SecurityEventTable

    store = SecurityEventTable(target.resources["SecurityEventsTable"], client=target.client("dynamodb"))
    page = list_events(store, event_query(args.type, args.charge_point, args.since, args.until), args.limit)
    return [security_event_resource(e) for e in page.items]


def events_get(args: argparse.Namespace, target: Target) -> Rows:
    from bridge.responses import security_event_resource
    from bridge.security_events import read_event
    from bridge.storage.security_events import SecurityEventTable

    store = SecurityEventTable(target.resources["SecurityEventsTable"], client=target.client("dynamodb"))
    event = read_event(store, args.id)
    return [security_event_resource(event)] if event else []


def attempts_get(args: argparse.Namespace, target: Target) -> Rows:
    from bridge.storage.attempts import attempt_to_plain

    attempt = _attempts(target).get(args.attempt_id)
    return [attempt_to_plain(attempt)] if attempt else []


def attempts_list(args: argparse.Namespace, target: Target) -> Rows:
    """Starts asked for one charge point or EVSE in a time window (byTarget); the outcome and errorCode narrow
    what that one Query returned."""
    from bridge.storage.attempts import attempt_to_plain

    key = charge_point_key(args.charge_point) if args.charge_point is not None else evse_key(args.evse)
    since, until = _window(args)
    found = _attempts(target).on_target(key, since, until, args.limit)
    rows = [attempt_to_plain(a) for a in found]
    if args.error_code:
        rows = [r for r in rows if r.get("errorCode") == args.error_code]
    if args.outcome:
        rows = [r for r in rows if r.get("outcome") == args.outcome]
    return rows


def sessions_list(args: argparse.Namespace, target: Target) -> Rows:
    from bridge.sessions import session_resource
    from bridge.storage.sessions import SessionQuery

    filters: dict[str, str | int] = {}
    for name, value in (
        ("chargePointId", args.charge_point),
        ("evseId", args.evse),
        ("status", args.status),
        ("idTag", args.id_tag),
    ):
        if value is not None:
            filters[name] = value
    store = _sessions(target)
    sessions, _ = store.query(SessionQuery(filters), args.limit)
    return [session_resource(s) for s in sessions]


def sessions_get(args: argparse.Namespace, target: Target) -> Rows:
    from bridge.sessions import session_resource

    session = _sessions(target).get(args.id)
    return [session_resource(session)] if session else []


def sessions_backfill(args: argparse.Namespace, target: Target) -> Rows:
    """Copy every stored session into the listing table (once, after upgrading a stack from before it): a
    migration, so the one Scan here; a copy never replaces a newer one, so it is safe while traffic flows."""
    store = _sessions(target)
    copied, after, pages = 0, None, 0
    while True:
        written, after = store.copy_to_listing(args.limit, after)
        copied, pages = copied + written, pages + 1
        if after is None:
            return [{"copied": copied, "pages": pages}]


def _sessions(target: Target) -> Any:
    from bridge.storage.sessions import SessionTable

    return SessionTable(
        target.resources["SessionsTable"],
        notifications_table="",
        client=target.client("dynamodb"),
        listing_table=target.resources.get("SessionListingTable"),
    )


def notifications_quarantined(args: argparse.Namespace, target: Target) -> Rows:
    from bridge.storage.security_events import SecurityEventTable

    store = SecurityEventTable(target.resources["SecurityEventsTable"], client=target.client("dynamodb"))
    since, until = _window(args)
    return store.quarantined(since, until, args.limit)


def notifications_show(args: argparse.Namespace, target: Target) -> Rows:
    from bridge.storage.security_events import SecurityEventTable

    store = SecurityEventTable(target.resources["SecurityEventsTable"], client=target.client("dynamodb"))
    record = store.notification(args.fingerprint)
    return [record] if record else []


def verify(args: argparse.Namespace) -> Rows:
    """Check a webhook signature offline, as the bridge would (no stack needed)."""
    from bridge import push_secrets
    from bridge.errors import Unauthenticated
    from bridge.signatures import verify_ampeco_signature, verify_standard_webhook

    body = Path(args.body_file).read_bytes()
    try:
        if args.channel == "ampeco":
            verify_ampeco_signature(body, args.signature, args.token)
        else:
            if args.master:
                secrets = push_secrets.charge_point_secrets(args.master, args.charge_point)
            else:
                secrets = [args.secret]
            headers = {"webhook-id": args.id, "webhook-timestamp": args.timestamp, "webhook-signature": args.signature}
            now = datetime.fromtimestamp(int(args.timestamp), tz=UTC) if args.ignore_time else datetime.now(UTC)
            verify_standard_webhook(body, headers, secrets, tolerance_seconds=args.tolerance, now=now)
    except Unauthenticated as refused:
        return [{"valid": False, "reason": refused.reason or "bad_signature", "message": refused.message}]
    return [{"valid": True}]


# ---------------------------------------------------------------------- plumbing
def _attempts(target: Target) -> Any:
    from bridge.storage.attempts import AttemptTable

    return AttemptTable(target.resources["AttemptsTable"], client=target.client("dynamodb"))


def _window(args: argparse.Namespace) -> tuple[datetime, datetime]:
    until = args.until or datetime.now(UTC)
    return args.since or until - DEFAULT_WINDOW, until


def instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time with an offset, e.g. 2026-11-30T10:00:00Z")
    return moment


def print_rows(rows: Rows, as_json: bool, columns: Sequence[str]) -> None:
    """JSON for scripts (one document), a table for people."""
    if as_json:
        print(json.dumps(rows, default=str))
        return
    if not rows:
        print("(nothing found)")
        return
    if len(rows) == 1 and len(columns) == 0:
        width = max(len(k) for k in rows[0])
        for key, value in rows[0].items():
            print(f"{key:<{width}}  {_cell(value, 100)}")
        return
    shown = [[_cell(row.get(c), 70) for c in columns] for row in rows]  # a fingerprint (64) whole
    widths = [max(len(c), *(len(r[i]) for r in shown)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for line in shown:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)))


def _cell(value: Any, limit: int) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


Command = Callable[[argparse.Namespace, "Target"], Rows]


def add_commands(commands: Any, json_flag: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the read commands on the `bridge` parser; each sets `run` (with the stack) or `offline`."""

    def reader(parent: Any, name: str, text: str, run: Command, columns: Sequence[str]) -> argparse.ArgumentParser:
        command: argparse.ArgumentParser = parent.add_parser(name, help=text)
        command.set_defaults(read=run, columns=tuple(columns))
        json_flag(command)
        return command

    def window(command: argparse.ArgumentParser, limit: int = 100) -> None:
        command.add_argument("--since", type=instant, help="ISO-8601 with offset (default: a day before --until)")
        command.add_argument("--until", type=instant, help="ISO-8601 with offset (default: now)")
        command.add_argument("--limit", type=int, default=limit, help=f"at most this many (default {limit})")

    events = commands.add_parser("events", help="security events").add_subparsers(required=True, metavar="action")
    listing = reader(
        events, "list", "newest first", events_list, ("id", "chargePoint", "type", "timestamp", "techInfo")
    )
    listing.add_argument("--charge-point", type=int)
    listing.add_argument("--type")
    window(listing)
    reader(events, "get", "one event by id", events_get, ()).add_argument("id")

    attempts = commands.add_parser("attempts", help="start attempts").add_subparsers(required=True, metavar="action")
    reader(attempts, "get", "one attempt by X-Bridge-Attempt-Id", attempts_get, ()).add_argument("attempt_id")
    attempt_columns = ("attemptId", "createdAt", "outcome", "errorCode", "chargePoint", "evseNetworkId", "evseId")
    by_target = reader(
        attempts, "list", "starts at a charge point or EVSE, oldest first", attempts_list, attempt_columns
    )
    where = by_target.add_mutually_exclusive_group(required=True)
    where.add_argument("--charge-point", type=int)
    where.add_argument("--evse", type=int, help="an EVSE id (the EVSE path)")
    by_target.add_argument("--error-code")
    by_target.add_argument("--outcome", choices=("started", "rejected", "failed"))
    window(by_target)

    sessions = commands.add_parser("sessions", help="sessions").add_subparsers(required=True, metavar="action")
    session_columns = ("id", "chargePointId", "evseId", "status", "idTag", "startedAt", "randomisedDelay")
    session_list = reader(sessions, "list", "newest first", sessions_list, session_columns)
    for flag, kind in (("--charge-point", int), ("--evse", int), ("--status", str), ("--id-tag", str)):
        session_list.add_argument(flag, type=kind)
    session_list.add_argument("--limit", type=int, default=100)
    reader(sessions, "get", "one session by id", sessions_get, ()).add_argument("id")
    backfill = reader(
        sessions,
        "backfill-listing",
        "copy stored sessions into the listing table (after an upgrade)",
        sessions_backfill,
        ("copied", "pages"),
    )
    backfill.add_argument("--limit", type=int, default=100, help="sessions per page (default 100)")

    notes = commands.add_parser("notifications", help="AMPECO notification records").add_subparsers(
        required=True, metavar="action"
    )
    columns = ("fingerprint", "receivedAt", "notification", "reason")
    window(
        reader(
            notes,
            "quarantined",
            "signed deliveries the bridge could not use, newest first",
            notifications_quarantined,
            columns,
        )
    )
    reader(notes, "show", "one record, with its body and why", notifications_show, ()).add_argument("fingerprint")

    check = commands.add_parser("verify", help="check a webhook signature offline").add_subparsers(
        required=True, metavar="channel"
    )
    push = check.add_parser("push", help="a charge point's Standard Webhooks signature")
    secret = push.add_mutually_exclusive_group(required=True)
    secret.add_argument("--secret", help="the charge point's own whsec_ secret")
    secret.add_argument("--master", help="a master secret: the charge point's is derived (needs --charge-point)")
    push.add_argument("--charge-point", type=int)
    push.add_argument("--id", required=True, help="the webhook-id header")
    push.add_argument("--timestamp", required=True, help="the webhook-timestamp header")
    push.add_argument("--signature", required=True, help="the webhook-signature header")
    push.add_argument("--tolerance", type=int, default=300, help="seconds either side of now (default 300)")
    push.add_argument("--ignore-time", action="store_true", help="check the signature only, not the timestamp")
    ampeco = check.add_parser("ampeco", help="an AMPECO notification's X-Signature")
    ampeco.add_argument("--token", required=True, help="the tenant's API token")
    ampeco.add_argument("--signature", required=True, help="the X-Signature header (hex or base64)")
    for command, channel in ((push, "push"), (ampeco, "ampeco")):
        command.add_argument("body_file", help="the raw body, byte for byte")
        command.set_defaults(offline=verify, channel=channel, columns=())
        json_flag(command)
