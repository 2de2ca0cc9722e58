"""`python -m local` (what `make run` starts): the bridge on 127.0.0.1 with in-memory AWS from template.yaml."""

from __future__ import annotations

import base64
import logging
import math
import os
import re
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
from urllib.parse import urlsplit

from pydantic import ValidationError

from bridge import push_secrets
from bridge.errors import NotConfigured
from bridge.settings import refusals
from local.aws import REGION, in_memory_aws
from local.aws_endpoint import AwsEndpoint
from local.deliveries import Deliveries
from local.docs import serve_docs
from local.event_sources import ScheduleTicker, SqsPump
from local.fault_routes import serve_faults
from local.lambda_runtime import apply_environment, handler_invoker, load_function
from local.server import BridgeServer, PortInUse, check_port_free
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


HOST = "127.0.0.1"  # loopback only: the local run's secrets and helpers are open to whoever can connect
DEFAULT_PORT = 3000
DEFAULT_RECONCILE_INTERVAL = 10.0  # seconds; the template's schedule (5 minutes) is for AWS
RECONCILER_SCHEDULE = "ReconcilerFunction.Schedule"


class SettingError(ValueError):
    """A local-run setting out of range or malformed; its text is the one line `make run` stops with."""


_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")  # no inf, nan, 1_0 or other digits


@dataclass(frozen=True)
class NumberSetting:
    """A numeric variable, its range, and what is allowed in words (the refusal's end)."""

    name: str
    low: float
    high: float
    allowed: str
    integer: bool = True
    above_low: bool = False  # the low end itself is refused

    def read(self, env: Mapping[str, str]) -> float | None:
        """The value when set (None when unset or empty); SettingError when malformed or out of range."""
        raw = env.get(self.name, "")
        if not raw.strip():
            return None
        value = float(raw) if (_INTEGER if self.integer else _NUMBER).fullmatch(raw.strip()) else math.nan
        low_ok = value > self.low if self.above_low else value >= self.low
        if not (math.isfinite(value) and low_ok and value <= self.high):
            raise SettingError(f"{self.name}={raw!r} is not allowed: {self.allowed}")
        return value


PORT = NumberSetting("PORT", 0, 65535, "an integer from 1 to 65535 (0: any free port)")
# What the functions read at cold start, with their settings models' ranges (bridge.settings): checked here
# first, so a bad value stops the run in one line before anything is built.
FUNCTION_NUMBERS = (
    NumberSetting(
        "AMPECO_TIMEOUT_SECONDS",
        0,
        25,
        "a number of seconds greater than 0 and at most 25 (the tenant call's deadline; API Gateway gives up at 29 s)",
        integer=False,
        above_low=True,
    ),
    NumberSetting(
        "WEBHOOK_TOLERANCE_SECONDS",
        1,
        3600,
        "an integer number of seconds from 1 to 3600 (how far a push's timestamp may be from now)",
    ),
    NumberSetting(
        "RELAY_GIVE_UP_SECONDS",
        0,
        3600,
        "an integer number of seconds from 0 to 3600 (how long a failing publish is retried before it is kept)",
    ),
)
DROP_SHARE = NumberSetting(
    "SIM_DROP_NOTIFICATIONS",
    0,
    1,
    "a number from 0 to 1 (the share of the tenant simulator's notifications it drops)",
    integer=False,
)
RECONCILE_INTERVAL = NumberSetting(
    "RECONCILE_INTERVAL_SECONDS",
    1,
    3600,
    "a number of seconds from 1 to 3600 (how often the local reconciler pages the tenant's listings)",
    integer=False,
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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
    log_level: str = "INFO"  # LOCAL_LOG_LEVEL
    drop_share: float = 0.0  # SIM_DROP_NOTIFICATIONS: the share of the simulator's notifications it drops
    reconcile_interval: float = DEFAULT_RECONCILE_INTERVAL  # RECONCILE_INTERVAL_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalSettings:
        made = {name: made_up_secret(name) for name in SECRET_VARIABLES if env.get(name) is None}
        values = {**{name: env.get(name, "") for name in SECRET_VARIABLES}, **made}
        return cls(
            port=port_from_env(env),
            api_key=env.get("BRIDGE_API_KEY") or DEFAULT_API_KEY,
            ampeco_token=values["AMPECO_API_TOKEN"],
            webhook_secret=values["WEBHOOK_SECRET"],
            cursor_secret=values["CURSOR_SECRET"],
            ampeco_base_url=env.get("AMPECO_BASE_URL") or None,
            made_up=tuple(made),
            log_level=log_level_from_env(env),
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


def port_from_env(env: Mapping[str, str]) -> int:
    """PORT, 1 to 65535, or 0 for any free port (unset or empty: 3000)."""
    port = PORT.read(env)
    return DEFAULT_PORT if port is None else int(port)


def log_level_from_env(env: Mapping[str, str]) -> str:
    """LOCAL_LOG_LEVEL, one of LOG_LEVELS in any case (unset or empty: INFO)."""
    raw = env.get("LOCAL_LOG_LEVEL", "")
    level = raw.strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise SettingError(
            f"LOCAL_LOG_LEVEL={raw!r} is not allowed: one of {', '.join(LOG_LEVELS)} (the local run's own log lines)"
        )
    return level


def check_function_settings(env: Mapping[str, str]) -> None:
    """What the functions read at cold start, by their rules; SettingError names the first bad variable.

    A placeholder WEBHOOK_SECRET passes: the bridge refuses to use it, and the banner says what to set.
    """
    for setting in FUNCTION_NUMBERS:
        setting.read(env)
    check_base_url(env.get("AMPECO_BASE_URL", ""))
    if env.get("WEBHOOK_SECRET") is not None:
        check_webhook_secret(env["WEBHOOK_SECRET"])


def check_base_url(raw: str) -> None:
    """AMPECO_BASE_URL: empty (the embedded simulator) or an absolute http(s) URL."""
    if not raw.strip():
        return
    try:
        split = urlsplit(raw)
        usable = raw.startswith(("http://", "https://")) and bool(split.hostname) and split.port != 0
    except ValueError:  # a port that is not a number, or out of range
        usable = False
    if not usable or any(character.isspace() for character in raw):
        raise SettingError(
            f"AMPECO_BASE_URL={raw!r} is not allowed: an absolute http:// or https:// URL such as"
            " https://tenant.example.ampeco.tech (unset: the embedded tenant simulator)"
        )


def check_webhook_secret(raw: str) -> None:
    """WEBHOOK_SECRET: whsec_ masters, space-separated; placeholders pass (the bridge refuses them, and says so)."""

    def placeholder(entry: str) -> bool:
        return push_secrets.is_placeholder(entry.removeprefix(push_secrets.PREFIX))

    def master(entry: str) -> bool:
        try:
            return bool(push_secrets.master_keys(entry))
        except NotConfigured:
            return False

    entries = raw.split()
    if all(placeholder(entry) or master(entry) for entry in entries):  # no entry at all: a placeholder too
        return
    raise SettingError(
        f"WEBHOOK_SECRET={raw!r} is not allowed: one or more whsec_ master secrets, space-separated, each the"
        f" base64 of at least {push_secrets.MIN_KEY_BYTES} random bytes, e.g. whsec_$(openssl rand -base64 32)"
        " (unset: one is made up for the run)"
    )


def drop_share_from_env(env: Mapping[str, str]) -> float:
    """SIM_DROP_NOTIFICATIONS as a share from 0 to 1 (unset or empty: 0); SettingError otherwise."""
    return DROP_SHARE.read(env) or 0.0


def reconcile_interval_from_env(env: Mapping[str, str]) -> float:
    """RECONCILE_INTERVAL_SECONDS, 1 to 3600 (unset or empty: 10 locally; AWS schedules whole minutes)."""
    return RECONCILE_INTERVAL.read(env) or DEFAULT_RECONCILE_INTERVAL


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
    """Import every handler now (cold starts up front); a broken one is reported and answers 502.

    A setting its settings model refuses raises SettingError instead: in AWS that function would fail every
    cold start, so the local run does not serve either.
    """
    for function in stack.template.functions():
        try:
            load_function(stack.template, function)
        except Exception as exc:
            refused = settings_refusal(exc)
            if refused is not None:
                raise SettingError(refused) from exc
            log.exception("cannot import %s; its routes will answer 502", function)


def settings_refusal(exc: BaseException) -> str | None:
    """The first `NAME='value' is not allowed: ...` line of a settings model's refusal in exc's chain, if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ValidationError) and (lines := refusals(seen)):
            return lines[0]
        seen = seen.__cause__ or seen.__context__
    return None


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
        f"  SNS deliveries   {url}/_local/deliveries   (?topic=start-results or ?topic=security-events: one topic's)",
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


def refuse(reason: BaseException) -> int:
    """Stop before serving with one line on stderr, as a function fails at cold start; the exit status."""
    print(reason, file=sys.stderr, flush=True)
    return 2


def main() -> int:
    try:
        settings = LocalSettings.from_env(os.environ)
        check_function_settings(os.environ)
        check_port_free(HOST, settings.port)
    except (SettingError, PortInUse) as exc:
        return refuse(exc)
    except OSError as exc:  # e.g. a port below 1024 without the privilege
        return refuse(OSError(f"cannot listen on {HOST}:{settings.port} ({exc.strerror}): set PORT=..."))
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    # Powertools warns on every invocation that publishes no metric (reads, health): noise here.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
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
        try:
            bridge = BridgeServer(
                stack, stack.template, settings.port, settings.api_key, deliveries=deliveries, host=HOST
            )
        except PortInUse as exc:  # taken while the stack was being built
            return refuse(exc)
        faults = serve_faults(bridge)
        aws_endpoint = AwsEndpoint(deliveries.record)
        aws_endpoint.start()
        serve_stack(bridge, stack, aws_endpoint.url)
        serve_docs(bridge)  # Swagger UI at /docs, the document at /docs/openapi.json
        simulator = start_tenant_simulator(settings)
        serve_tenant_controls(bridge, simulator)
        try:
            preload_handlers(stack)
        except SettingError as exc:
            aws_endpoint.stop()
            if simulator is not None:
                simulator.stop()
            return refuse(exc)  # the bridge's socket, bound but never served, closes with the process
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
