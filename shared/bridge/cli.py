"""`bridge`: the operator's command line, against a deployed stack or the local run.

    bridge [--stack NAME | --local URL] redrive [--limit N] [--dry-run] [--json]
    bridge [--stack NAME | --local URL] replay security-events --since T --until T [--charge-point N] [--type T]
    bridge [--stack NAME | --local URL] replay start-results --since T --until T
    bridge [--stack NAME | --local URL] push-secret --charge-point N [--all]   (or --master whsec_... offline)
    bridge [--stack NAME | --local URL] events|attempts|sessions|notifications ...   (see bridge.cli_reads)
    bridge verify push|ampeco ...   (offline)
    bridge [--stack NAME | --local URL] subscribe --tenant-url URL --callback-url URL   (AMPECO notifications v2.0)

`--stack` reads the stack's resources from CloudFormation with the usual AWS credentials; `--local` (the
default, http://127.0.0.1:3000) asks the local run where its in-memory AWS listens.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge import cli_reads, push_secrets
from bridge.errors import NotConfigured
from bridge.ids import parse_id
from bridge.models.common import iso_instant
from bridge.publisher import SnsPublisher
from bridge.redrive import Report, redrive, replay_security_events, replay_start_results
from bridge.storage.attempts import AttemptTable
from bridge.storage.security_events import SecurityEventTable
from bridge.storage.undelivered import UndeliveredTable

DEFAULT_LOCAL = "http://127.0.0.1:3000"


@dataclass(frozen=True)
class Target:
    """Where the bridge's resources are: physical ids by the template's logical ids, and how to reach AWS."""

    resources: dict[str, str]
    region: str | None
    endpoint_url: str | None = None

    def client(self, service: str) -> Any:
        import boto3

        session = boto3.session.Session(region_name=self.region)
        if self.endpoint_url:  # the local run's in-memory AWS takes any credentials
            return session.client(
                service, endpoint_url=self.endpoint_url, aws_access_key_id="local", aws_secret_access_key="local"
            )
        return session.client(service)

    def publisher(self) -> SnsPublisher:
        return SnsPublisher(
            {
                "security-events": self.resources["SecurityEventsTopic"],
                "start-results": self.resources["StartResultsTopic"],
            },
            self.client("sns"),
        )


def stack_target(stack: str, region: str | None) -> Target:
    """A deployed stack's resources, from CloudFormation."""
    import boto3

    cloudformation = boto3.session.Session(region_name=region).client("cloudformation")
    resources: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            resources[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    return Target(resources, region)


def local_target(url: str) -> Target:
    """The local run's resources and in-memory AWS endpoint (GET /_local/stack)."""
    with urllib.request.urlopen(url.rstrip("/") + "/_local/stack", timeout=5) as answer:  # noqa: S310 - loopback
        described = json.load(answer)
    return Target(described["resources"], described["region"], described["endpoint"])


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit status 1 when anything could not be published, 2 when it could not run."""
    args = _parser().parse_args(argv)
    try:
        if getattr(args, "offline", None):
            rows = args.offline(args)
            cli_reads.print_rows(rows, args.json, args.columns)
            return 0 if all(row.get("valid", True) for row in rows) else 1
        if getattr(args, "read", None):
            target = stack_target(args.stack, args.region) if args.stack else local_target(args.local)
            rows = args.read(args, target)
            cli_reads.print_rows(rows, args.json, args.columns)
            return 0 if rows or args.columns else 1  # a get that found nothing is an error
        if getattr(args, "master", None):
            return _print_push_secrets(args, args.master)
        if getattr(args, "subscribe", False):
            token = args.token or _secret(
                stack_target(args.stack, args.region) if args.stack else local_target(args.local)
            )
            return _subscribe(args, token)
        target = stack_target(args.stack, args.region) if args.stack else local_target(args.local)
        if args.run is _push_secret:
            return _print_push_secrets(args, _push_secret(args, target))
        report = args.run(args, target)
    except (OSError, ValueError, KeyError, NotConfigured) as exc:
        print(f"bridge: {exc}", file=sys.stderr)
        return 2
    _print(report, args)
    return 1 if report.failed else 0


# What the bridge acts on; AMPECO sends only the notification types a webhook subscribes to.
SUBSCRIBED = ("SecurityEventNotification", "SessionUpdateNotification", "session.start.stop.notification")


def _secret(target: Target) -> str:
    """The tenant token from the stack's AmpecoApiToken secret, read with the operator's credentials."""
    answer = target.client("secretsmanager").get_secret_value(SecretId=target.resources["AmpecoApiToken"])
    return str(answer["SecretString"])


def _subscribe(args: argparse.Namespace, token: str) -> int:
    """Register the bridge's webhook with the tenant (POST /public-api/notifications/v2.0)."""
    from bridge.tenant_client import TenantClient

    if push_secrets.is_placeholder(token):
        raise ValueError("the AMPECO token is unset or a placeholder: set the AmpecoApiToken secret first")
    body = {"via": "webhook", "notifications": list(SUBSCRIBED), "webhook": {"callbackUrl": args.callback_url}}
    client = TenantClient(args.tenant_url, lambda: token, timeout_seconds=20)
    answer = client.post_json("/public-api/notifications/v2.0", json.dumps(body).encode())
    document = answer.json()
    if args.json:
        print(json.dumps({"status": answer.status, "answer": document}))
    elif answer.status == 201 and isinstance(document, dict):
        data = document.get("data", {})
        print(f"subscribed: id {data.get('id')}, {', '.join(data.get('notifications', []))} -> {args.callback_url}")
    else:
        print(f"the tenant answered {answer.status}: {answer.body[:500].decode(errors='replace')}", file=sys.stderr)
    return 0 if answer.status == 201 else 1


def _push_secret(_args: argparse.Namespace, target: Target) -> str:
    """The WebhookSecret's value (the masters), read with the operator's credentials."""
    answer = target.client("secretsmanager").get_secret_value(SecretId=target.resources["WebhookSecret"])
    return str(answer["SecretString"])


def _print_push_secrets(args: argparse.Namespace, masters: str) -> int:
    """A charge point's secret (or one per master, during a rotation): what to provision on that charger."""
    if args.charge_point is None or parse_id(str(args.charge_point)) is None:
        raise ValueError("--charge-point takes a positive integer")
    derived = push_secrets.charge_point_secrets(masters, args.charge_point)
    shown = derived if args.all else derived[:1]
    if args.json:
        print(json.dumps({"chargePoint": args.charge_point, "secrets": shown}))
    else:
        for secret in shown:
            print(secret)
    return 0


def _redrive(args: argparse.Namespace, target: Target) -> Report:
    store = UndeliveredTable(target.resources["UndeliveredTable"], client=target.client("dynamodb"))
    return redrive(store, target.publisher(), limit=args.limit, dry_run=args.dry_run)


def _replay_events(args: argparse.Namespace, target: Target) -> Report:
    store = SecurityEventTable(target.resources["SecurityEventsTable"], client=target.client("dynamodb"))
    return replay_security_events(
        store,
        target.publisher(),
        args.since,
        args.until,
        charge_point=args.charge_point,
        event_type=args.type,
        limit=args.limit,
        dry_run=args.dry_run,
    )


def _replay_results(args: argparse.Namespace, target: Target) -> Report:
    store = AttemptTable(target.resources["AttemptsTable"], client=target.client("dynamodb"))
    return replay_start_results(
        store, target.publisher(), args.since, args.until, limit=args.limit, dry_run=args.dry_run
    )


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time with an offset, e.g. 2026-11-30T10:00:00Z")
    return moment


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bridge", description="Operate an AMPECO webhook bridge.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", help="a deployed stack's name (AWS credentials as usual)")
    where.add_argument("--local", default=DEFAULT_LOCAL, help=f"the local run's URL (default {DEFAULT_LOCAL})")
    parser.add_argument("--region", help="the stack's region (default: the AWS configuration's)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    commands = parser.add_subparsers(required=True, metavar="command")

    def bounded(command: argparse.ArgumentParser, default: int) -> None:
        command.add_argument("--limit", type=int, default=default, help=f"at most this many (default {default})")
        command.add_argument("--dry-run", action="store_true", help="list what would be published, publish nothing")
        # Also after the command, where people type it; SUPPRESS keeps the global one when absent here.
        command.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")

    again = commands.add_parser("redrive", help="publish again the messages the relay gave up on")
    bounded(again, 1000)
    again.set_defaults(run=_redrive)

    replay = commands.add_parser("replay", help="publish stored events again (same eventIds)")
    kinds = replay.add_subparsers(required=True, metavar="kind")
    events = kinds.add_parser("security-events", help="security events by occurrence time")
    results = kinds.add_parser("start-results", help="start results by completion time")
    for command in (events, results):
        command.add_argument("--since", type=_instant, required=True, help="ISO-8601 with offset, inclusive")
        command.add_argument("--until", type=_instant, required=True, help="ISO-8601 with offset, inclusive")
        bounded(command, 1000)
    events.add_argument("--charge-point", type=int)
    events.add_argument("--type")
    events.set_defaults(run=_replay_events)
    results.set_defaults(run=_replay_results)

    secret = commands.add_parser("push-secret", help="a charge point's own push secret, to provision it")
    secret.add_argument("--charge-point", type=int, required=True)
    secret.add_argument("--all", action="store_true", help="one per master during a rotation, current first")
    secret.add_argument("--master", help="derive from this whsec_ master instead of reading the stack's secret")
    secret.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")
    secret.set_defaults(run=_push_secret)

    subscribe = commands.add_parser("subscribe", help="register the bridge's webhook with the AMPECO tenant")
    subscribe.add_argument("--tenant-url", required=True, help="the tenant's base URL, e.g. https://x.ampeco.tech")
    subscribe.add_argument("--callback-url", required=True, help="the bridge's .../webhooks/ampeco URL (ApiUrl output)")
    subscribe.add_argument("--token", help="the tenant token (default: the stack's AmpecoApiToken secret)")
    subscribe.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")
    subscribe.set_defaults(subscribe=True)

    def json_flag(command: argparse.ArgumentParser) -> None:
        command.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")

    cli_reads.add_commands(commands, json_flag)
    return parser


def _print(report: Report, args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps({"published": report.published, "failed": report.failed, "eventIds": report.event_ids}))
        return
    verb = "would publish" if args.dry_run else "published"
    for event_id in report.event_ids:
        print(f"  {event_id}")
    count = len(report.event_ids) if args.dry_run else report.published
    print(f"{verb} {count}, failed {report.failed} ({iso_instant(datetime.now().astimezone())})")


if __name__ == "__main__":
    raise SystemExit(main())
