"""`python -m local` (what `make run` starts): the bridge on 127.0.0.1 with in-memory AWS from template.yaml."""

from __future__ import annotations

import base64
import logging
import math
import os
import secrets
import shlex
import signal
import sys
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Protocol

from bridge import push_secrets
from bridge.errors import NotConfigured
from local.aws import REGION, in_memory_aws
from local.aws_endpoint import AwsEndpoint
from local.deliveries import Deliveries
from local.event_sources import ScheduleTicker, SqsPump
from local.fault_routes import serve_faults
from local.lambda_runtime import apply_environment, handler_invoker, load_function
from local.server import BridgeServer
from local.stack import Stack
from local.streams import StreamPump
from local.template import TemplateModel, load_template
from local.tenant_routes import SECURITY_EVENTS_ROUTE, serve_tenant_controls
from local.tenant_sim import TenantSimulator, start_simulator

log = logging.getLogger("local")

DEFAULT_API_KEY = "local-api-key"  # the local run's own front door; in AWS the usage plan makes the key
# Secrets have no default: each is made up for the run unless set, so no well-known value verifies anything.
SECRET_VARIABLES = {
    "AMPECO_API_TOKEN": "AmpecoApiToken",
    "WEBHOOK_SECRET": "WebhookSecret",
    "CURSOR_SECRET": "CursorSecret",
}

# Template parameters fed from the environment, when the template declares them.
PARAMETER_ENV = {
    "AmpecoTenant": "AMPECO_TENANT",
    "WebhookToleranceSeconds": "WEBHOOK_TOLERANCE_SECONDS",
    "AmpecoBaseUrl": "AMPECO_BASE_URL",
    "AmpecoTimeoutSeconds": "AMPECO_TIMEOUT_SECONDS",
    "RelayGiveUpSeconds": "RELAY_GIVE_UP_SECONDS",
}


DEFAULT_RECONCILE_INTERVAL = 10.0  # seconds; the template's schedule (5 minutes) is for AWS
RECONCILER_SCHEDULE = "ReconcilerFunction.Schedule"


class SettingError(ValueError):
    """A local-run setting out of range or malformed; its text is the one line `make run` stops with."""


class Service(Protocol):
    """Something the local run started and stops on exit (the tenant simulator)."""

    @property
    def url(self) -> str: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class LocalSettings:
    port: int
    api_key: str
    ampeco_token: str
    webhook_secret: str
    cursor_secret: str
    ampeco_base_url: str | None
    made_up: tuple[str, ...] = ()  # the secret variables that were unset, so made up for this run
    drop_share: float = 0.0  # SIM_DROP_NOTIFICATIONS: the share of the simulator's notifications it drops
    reconcile_interval: float = DEFAULT_RECONCILE_INTERVAL  # RECONCILE_INTERVAL_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalSettings:
        made = {name: made_up_secret(name) for name in SECRET_VARIABLES if env.get(name) is None}
        values = {**{name: env.get(name, "") for name in SECRET_VARIABLES}, **made}
        return cls(
            port=int(env.get("PORT") or 3000),
            api_key=env.get("BRIDGE_API_KEY") or DEFAULT_API_KEY,
            ampeco_token=values["AMPECO_API_TOKEN"],
            webhook_secret=values["WEBHOOK_SECRET"],
            cursor_secret=values["CURSOR_SECRET"],
            ampeco_base_url=env.get("AMPECO_BASE_URL") or None,
            made_up=tuple(made),
            drop_share=drop_share_from_env(env),
            reconcile_interval=reconcile_interval_from_env(env),
        )

    def placeholders(self) -> list[str]:
        """Lines naming each secret the bridge will refuse to use, and what to set."""
        lines = []
        if push_secrets.is_placeholder(self.ampeco_token):
            lines.append("AMPECO_API_TOKEN is unset or a placeholder: AMPECO notifications and starts answer 503.")
        try:
            push_secrets.master_keys(self.webhook_secret)
        except NotConfigured:
            lines.append("WEBHOOK_SECRET holds no whsec_ master secret: every push answers 503.")
        return [f"  ! {line} Set it and restart." for line in lines]

    def secrets(self) -> dict[str, str]:
        """Secret values by the template's logical ids."""
        return {
            "AmpecoApiToken": self.ampeco_token,
            "WebhookSecret": self.webhook_secret,
            "CursorSecret": self.cursor_secret,
        }


def drop_share_from_env(env: Mapping[str, str]) -> float:
    """SIM_DROP_NOTIFICATIONS as a share from 0 to 1 (unset or empty: 0); SettingError otherwise."""
    raw = env.get("SIM_DROP_NOTIFICATIONS", "")
    if not raw.strip():
        return 0.0
    try:
        share = float(raw)
    except ValueError:
        share = math.nan
    if not (math.isfinite(share) and 0 <= share <= 1):
        raise SettingError(
            f"SIM_DROP_NOTIFICATIONS={raw!r} is not allowed: a number from 0 to 1"
            " (the share of the tenant simulator's notifications it drops)"
        )
    return share


def reconcile_interval_from_env(env: Mapping[str, str]) -> float:
    """RECONCILE_INTERVAL_SECONDS, 1 to 3600 (unset or empty: 10 locally; AWS schedules whole minutes)."""
    raw = env.get("RECONCILE_INTERVAL_SECONDS", "")
    if not raw.strip():
        return DEFAULT_RECONCILE_INTERVAL
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 1 <= seconds <= 3600):
        raise SettingError(
            f"RECONCILE_INTERVAL_SECONDS={raw!r} is not allowed: a number of seconds from 1 to 3600"
            " (how often the local reconciler pages the tenant's listings)"
        )
    return seconds


def made_up_secret(variable: str) -> str:
    """A fresh secret of the form the variable takes."""
    if variable == "WEBHOOK_SECRET":
        return push_secrets.PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    return "local-" + secrets.token_urlsafe(24)


def stack_parameters(declared: Mapping[str, object], env: Mapping[str, str]) -> dict[str, str]:
    """Parameter values from the environment; AmpecoTenant unset means empty (any tenant)."""
    values = {name: env[var] for name, var in PARAMETER_ENV.items() if name in declared and env.get(var)}
    if "AmpecoTenant" in declared:
        values.setdefault("AmpecoTenant", "")
    return values


def start_tenant_simulator(settings: LocalSettings) -> TenantSimulator | None:
    """The embedded AMPECO tenant, unless AMPECO_BASE_URL points at a real one.

    It signs its session notifications with the AMPECO token; where to send them is set once the
    bridge is listening (`webhook_url`).
    """
    if settings.ampeco_base_url:
        return None
    tenant = os.environ.get("AMPECO_TENANT") or "local-tenant"
    simulator = start_simulator(settings.ampeco_token, None, tenant, drop_share=settings.drop_share)
    os.environ["AMPECO_BASE_URL"] = simulator.url  # before the handlers read it at import
    return simulator


def preload_handlers(stack: Stack) -> None:
    """Import every handler now (cold starts up front); a broken one is reported and answers 502."""
    for function in stack.template.functions():
        try:
            load_function(stack.template, function)
        except Exception:
            log.exception("cannot import %s; its routes will answer 502", function)


def serve_stack(bridge: BridgeServer, stack: Stack, endpoint: str) -> None:
    """`GET /_local/stack`: the in-memory AWS endpoint and every resource's physical id, for the `bridge` CLI."""
    described = {"endpoint": endpoint, "region": REGION, "resources": dict(stack.refs)}
    bridge.add_local_route("GET", "/_local/stack", lambda _body: (200, described))


def banner(settings: LocalSettings, bridge: BridgeServer, simulator: Service | None) -> str:
    url = bridge.url
    tenant = os.environ.get("AMPECO_TENANT") or "any"
    upstream = simulator.url + " (simulator)" if simulator else settings.ampeco_base_url or "none"
    if simulator and settings.drop_share:
        upstream += f", dropping {settings.drop_share:.0%} of its notifications"
    lines = [
        "AMPECO webhook bridge, local run (in-memory AWS; Ctrl-C stops)",
        f"  URL              {url}   (stage {bridge.stage}, served without the stage prefix)",
        f"  API key          x-api-key: {settings.api_key}",
        f"  AMPECO token     {settings.ampeco_token}   (X-Signature on /webhooks/ampeco)",
        f"  webhook masters  {settings.webhook_secret}   (each charge point signs with its own, derived)",
        f"  AMPECO tenant    {tenant}; upstream {upstream}",
        f"  SNS deliveries   {url}/_local/deliveries",
        f"  reconciler       every {settings.reconcile_interval:g} s against the tenant's listings"
        " (RECONCILE_INTERVAL_SECONDS)",
        f"  AWS faults       {url}/_local/faults   (POST adds one, GET lists, DELETE clears)",
        f"  operator CLI     .venv/bin/bridge --local {url} redrive   (also: replay; see --help)",
        f"  tenant events    {url}{SECURITY_EVENTS_ROUTE}   (POST: the simulated tenant records and notifies one)",
        "",
        "Try:",
        f"  curl -s {url}/health",
        f"  curl -s -H 'x-api-key: {settings.api_key}' {url}/public-api/resources/security-events/v2.0",
        "  # a start (the simulator decides by idTag: SIM:<CODE>, SIM:REJECT, SIM:TIMEOUT, SIM:HTTP_<status>,"
        " SIM:GARBAGE, SIM:SILENT_START (starts, never notified), SIM:LATE_START (starts, answers after the"
        " deadline); anything else starts; SIM_DROP_NOTIFICATIONS=0..1 drops that share of its notifications)",
        f"  curl -s -X POST {url}/public-api/actions/charge-point/v1.0/1187/start/2301"
        f" -H 'x-api-key: {settings.api_key}' -H 'content-type: application/json' -d '{{\"idTag\": \"FLEET-1\"}}'",
        f"  curl -s -H 'x-api-key: {settings.api_key}' {url}/public-api/resources/sessions/v1.0",
        "  # an AWS fault (kind: throttle, internal, timeout, conditional, conflict, answer_lost; times optional)",
        f"  curl -s -X POST {url}/_local/faults"
        """ -d '{"service": "dynamodb", "operation": "PutItem", "kind": "throttle", "times": 1}'""",
    ]
    if simulator is not None:
        lines += tenant_event_example(url)
    lines += signed_push_example(url, settings.webhook_secret)
    if settings.made_up:
        names = " ".join(f"{name}=..." for name in settings.made_up)
        lines += ["", f"  Made up for this run (export {names} to keep them across restarts)."]
    lines += settings.placeholders()
    return "\n".join(lines)


def tenant_event_example(url: str) -> list[str]:
    """Shell lines that make the simulated tenant record a security event and notify the bridge."""
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    body = shlex.quote(f'{{"chargePoint": 1187, "type": "TamperDetectionActivated", "timestamp": "{now}"}}')
    return [
        '  # a security event at the simulated tenant, notified to the bridge ("notify": false loses the webhook)',
        f"  curl -s -X POST {url}{SECURITY_EVENTS_ROUTE} -H 'content-type: application/json' -d {body}",
    ]


def signed_push_example(url: str, masters: str, charge_point: int = 1) -> list[str]:
    """Shell lines that sign a push as charge point `charge_point` does: with its own derived secret."""
    try:
        secret = push_secrets.charge_point_secrets(masters, charge_point)[0]
    except NotConfigured:
        return ["  (WEBHOOK_SECRET holds no whsec_ master secret: no signed example)"]
    key_hex = base64.b64decode(secret.removeprefix(push_secrets.PREFIX)).hex()
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    body = shlex.quote(f'{{"type": "FirmwareUpdated", "timestamp": "{now}", "techInfo": "local"}}')
    return [
        f"  # a signed security-log push from charge point {charge_point}, with its own secret"
        f" (another's: bridge --local {url} push-secret --charge-point N):",
        f"  secret={secret}",
        f'  body={body}; id="msg_$RANDOM$RANDOM"; ts=$(date +%s)',
        f"  sig=$(printf '%s' \"$id.$ts.$body\" | openssl dgst -sha256 -mac HMAC -macopt hexkey:{key_hex}"
        " -binary | base64)",
        f"  curl -s -X POST {url}/webhooks/charge-points/{charge_point}/security-events"
        " -H 'content-type: application/json'"
        ' -H "webhook-id: $id" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$sig" -d "$body"',
    ]


def main() -> int:
    level = os.environ.get("LOCAL_LOG_LEVEL", "INFO")
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    # Powertools warns on every invocation that publishes no metric (reads, health): noise here.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        settings = LocalSettings.from_env(os.environ)
    except SettingError as exc:
        print(exc, file=sys.stderr, flush=True)  # before anything serves, as a function fails at cold start
        return 2
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    with in_memory_aws():
        template = TemplateModel(load_template())
        parameters = stack_parameters(template.raw.get("Parameters", {}), os.environ)
        stack = Stack.create(parameters=parameters, secrets=settings.secrets())
        apply_environment(stack)
        deliveries = Deliveries.install(stack)
        invoke = handler_invoker(stack.template)
        bridge = BridgeServer(stack, stack.template, settings.port, settings.api_key, deliveries=deliveries)
        faults = serve_faults(bridge)
        aws_endpoint = AwsEndpoint(deliveries.record)
        aws_endpoint.start()
        serve_stack(bridge, stack, aws_endpoint.url)
        simulator = start_tenant_simulator(settings)
        serve_tenant_controls(bridge, simulator)
        preload_handlers(stack)
        pump = StreamPump(stack, stack.template, invoke)
        pump.start()
        # The finaliser's queue and sweep schedule: the event sources besides streams.
        sqs_pump = SqsPump(stack, invoke)
        ticker = ScheduleTicker(stack, invoke, periods={RECONCILER_SCHEDULE: settings.reconcile_interval})
        sqs_pump.start()
        ticker.start()
        bridge.start()
        if simulator is not None:
            simulator.webhook_url = bridge.url + "/webhooks/ampeco"
        print(banner(settings, bridge, simulator), flush=True)
        try:
            while not stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            print("stopping", flush=True)
            bridge.stop()
            faults.clear()
            aws_endpoint.stop()
            ticker.stop()
            sqs_pump.stop()
            pump.stop()
            if simulator is not None:
                simulator.stop()
                if settings.drop_share:
                    print(f"the tenant simulator dropped {len(simulator.dropped_notifications)} notifications")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
