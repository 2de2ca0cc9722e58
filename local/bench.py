"""`python -m local.bench` (what `make bench` runs): cold-start and per-event cost figures. Prints, never asserts.

Three parts:
- cold start: each function's handler module imported in a fresh interpreter, as Lambda's bootstrap does;
- per event: pushes through the real webhooks handler on moto, with DynamoDB calls, write units and the
  stream relay's time per record;
- listing: every filter combination's first page over 1000 seeded events, with Count against ScannedCount.
Times on moto measure our code and botocore, not DynamoDB; they compare changes, not deployments.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

from bridge.models.security_events import CriticalSecurityEventType
from local.aws import ACCOUNT_ID, REGION, in_memory_aws, set_fake_environment
from local.intercept import Call, Observer, observing
from local.lambda_runtime import (
    SHARED_DIR,
    FakeLambdaContext,
    api_gateway_event,
    apply_environment,
    ensure_layer_on_path,
    handler_invoker,
    load_function,
    make_context,
)
from local.stack import Stack
from local.streams import StreamPump
from local.template import TemplateModel, load_template

TABLE = "SecurityEventsTable"
PUSH_PATH = "/webhooks/charge-points/{}/security-events"
LISTING = "/public-api/resources/security-events/v2.0"
COLD_RUNS = 5
NO_PYC_RUNS = 3
SINGLE_PUSHES = 200
BATCHES, BATCH_SIZE = 20, 10
SEEDED = 1000
LISTING_RUNS = 3
SHORT = {"type": "type", "chargePoint": "cp", "timestampFrom": "from", "timestampTo": "to"}
TYPES = tuple(t.value for t in CriticalSecurityEventType)
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"ampeco-bridge-bench-webhook-key").decode()
SECRETS = {"WebhookSecret": WEBHOOK_SECRET, "AmpecoApiToken": "bench-ampeco-token", "CursorSecret": "bench-cursor"}
API_KEY_ID = "bench-api-key-id"
MARKER = "--- handler import ---"


# ====================================================================== output
def table(out: TextIO, headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> None:
    """An aligned table: `align` has one `l` or `r` per column."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True)]
        return "  " + "  ".join(parts).rstrip()

    print(line(headers), file=out)
    print("  " + "  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print(line(row), file=out)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


# ====================================================================== cold start
class _DummyRefs(dict[str, str]):
    """Physical ids for a template that was never deployed: every resource resolves to a dummy."""

    def __missing__(self, key: str) -> str:
        return f"dummy-{key}"


class _DummyAttrs(dict[tuple[str, str], str]):
    def __missing__(self, key: tuple[str, str]) -> str:
        return f"arn:aws:dummy:{REGION}:{ACCOUNT_ID}:{key[0]}"


# Runs in the fresh interpreter: the function's code directory first, then the layer, as on Lambda.
_CHILD = f"""
import importlib, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
sys.stderr.write({MARKER!r} + "\\n")
sys.stderr.flush()
started = time.perf_counter()
importlib.import_module(sys.argv[3])
sys.stdout.write(repr(time.perf_counter() - started))
"""


@dataclass
class ColdStart:
    function: str
    imports: list[float] = field(default_factory=list)  # seconds, inside the interpreter
    processes: list[float] = field(default_factory=list)  # seconds, interpreter start to exit
    without_pyc: float = 0.0
    heaviest: list[tuple[str, int]] = field(default_factory=list)  # (module, cumulative µs), handler's own
    error: str = ""


def function_environment(template_model: TemplateModel, function: str) -> dict[str, str]:
    """The function's template environment with dummy resource ids, plus what Lambda itself sets."""
    stack = Stack(template_model, template_model.parameter_defaults(), refs=_DummyRefs(), attrs=_DummyAttrs())
    code_dir = template_model.function_code_dir(function)
    props = template_model.functions()[function]["Properties"]
    memory = props.get("MemorySize", template_model.raw.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    return {
        **stack.function_environment(function),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": str(code_dir),  # tracing is on in Lambda: Powertools patches with X-Ray
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }


def handler_module(template_model: TemplateModel, function: str) -> str:
    props = template_model.functions()[function]["Properties"]
    handler = props.get("Handler") or template_model.raw.get("Globals", {}).get("Function", {}).get("Handler")
    return str(handler or "app.lambda_handler").rpartition(".")[0]


def _child_run(
    template_model: TemplateModel, function: str, pycache: str, *, write_pyc: bool, importtime: bool = False
) -> tuple[float, float, str]:
    """(import seconds, process seconds, stderr) of one fresh interpreter importing the handler."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "POWERTOOLS_TRACE"))}
    env.update(function_environment(template_model, function))
    # .pyc files live under a private prefix: the repository gets none, and "without" really has none.
    env["PYTHONPYCACHEPREFIX"] = pycache
    if not write_pyc:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    code_dir = template_model.function_code_dir(function)
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", _CHILD]
    command += [str(code_dir), str(SHARED_DIR), handler_module(template_model, function)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=code_dir, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"exit status {done.returncode}")
    return float(done.stdout), elapsed, done.stderr


def heaviest_imports(stderr: str, top: int = 5) -> list[tuple[str, int]]:
    """The handler module's own imports (top level of -X importtime's tree) by cumulative µs."""
    found: list[tuple[str, int]] = []
    lines = stderr.splitlines()
    start = lines.index(MARKER) + 1 if MARKER in lines else 0
    for line in lines[start:]:
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        # Nesting is two spaces per level after the separator's own space; level 0 is the handler's own.
        if name.startswith(" ") and not name.startswith("  ") and cumulative.strip().isdigit():
            found.append((name.strip(), int(cumulative)))
    return sorted(found, key=lambda item: item[1], reverse=True)[:top]


def layer_distributions(requirements: Path) -> set[str]:
    """The distributions `sam build` puts in the layer: the requirements and everything they require."""
    from importlib import metadata

    from packaging.requirements import Requirement

    lines = [line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines()]
    pending = [Requirement(line) for line in lines if line]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement = pending.pop()
        key = (requirement.name.lower().replace("_", "-"), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for spec in requires:
            dependency = Requirement(spec)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in extras):
                pending.append(dependency)
    return {name for name, _ in seen}


def strip_layer_pyc(pycache: Path, template_model: TemplateModel) -> None:
    """Remove from a pycache prefix the .pyc of everything the build would ship (layer and function code)."""
    from importlib import metadata
    from importlib.util import cache_from_source

    sources = list(SHARED_DIR.rglob("*.py"))
    for function in template_model.functions():
        sources += template_model.function_code_dir(function).rglob("*.py")
    for name in layer_distributions(SHARED_DIR / "requirements.txt"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            distribution = metadata.distribution(name)
            sources += [Path(str(distribution.locate_file(f))) for f in distribution.files or [] if f.suffix == ".py"]
    saved = sys.pycache_prefix
    sys.pycache_prefix = str(pycache)  # cache_from_source maps a source into the prefix exactly as imports do
    try:
        for source in sources:
            Path(cache_from_source(str(source))).unlink(missing_ok=True)
    finally:
        sys.pycache_prefix = saved


def cold_starts(template_model: TemplateModel) -> list[ColdStart]:
    results: dict[str, ColdStart] = {}
    functions = list(template_model.functions())
    with tempfile.TemporaryDirectory(prefix="bench-pyc-") as temp:
        warm, stripped = Path(temp, "warm"), Path(temp, "stripped")
        for function in functions:
            try:  # writes every .pyc the import needs (`make build` precompiles too)
                _child_run(template_model, function, str(warm), write_pyc=True)
            except RuntimeError as exc:
                results[function] = ColdStart(function, error=str(exc))
        shutil.copytree(warm, stripped)
        strip_layer_pyc(stripped, template_model)
        for function in (f for f in functions if f not in results):
            try:
                _, _, stderr = _child_run(template_model, function, str(warm), write_pyc=True, importtime=True)
                runs = [_child_run(template_model, function, str(warm), write_pyc=True) for _ in range(COLD_RUNS)]
                without = [
                    _child_run(template_model, function, str(stripped), write_pyc=False)[0] for _ in range(NO_PYC_RUNS)
                ]
            except RuntimeError as exc:
                results[function] = ColdStart(function, error=str(exc))
                continue
            results[function] = ColdStart(
                function,
                imports=[r[0] for r in runs],
                processes=[r[1] for r in runs],
                without_pyc=statistics.median(without),
                heaviest=heaviest_imports(stderr),
            )
    return [results[f] for f in functions]


def print_cold_starts(out: TextIO, results: Sequence[ColdStart]) -> None:
    print(
        f"Cold start: handler import in a fresh interpreter (Python {platform.python_version()}, "
        f"{platform.machine()}), median of {COLD_RUNS}",
        file=out,
    )
    rows = [
        [
            r.function,
            ms(statistics.median(r.imports)),
            ms(min(r.imports)),
            ms(statistics.median(r.processes)),
            ms(r.without_pyc),
        ]
        if not r.error
        else [r.function, "-", "-", "-", "-"]
        for r in results
    ]
    table(out, ["function", "import ms", "min ms", "process ms", "no .pyc ms"], rows, "lrrrr")
    width = max(len(r.function) for r in results)
    print("  heaviest top-level imports of the handler (cumulative ms, one -X importtime run):", file=out)
    for r in results:
        heaviest = ", ".join(f"{name} {us / 1000:.1f}" for name, us in r.heaviest)
        print(f"    {r.function:<{width}}  {heaviest or 'IMPORT FAILED: ' + r.error}", file=out)
    print(
        "  Lambda's arm64 cores are slower than this machine's; the init phase also pays the runtime's own start.\n"
        f"  .pyc matters: `no .pyc` (median of {NO_PYC_RUNS}) compiles the function, the layer and the layer's\n"
        "  requirements from source, as every cold start of a package built without .pyc files does (Lambda's\n"
        "  code directories are read-only, nothing is cached); `make build` precompiles them.",
        file=out,
    )


# ====================================================================== moto harness
def sign(body: bytes, webhook_id: str, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    """Standard Webhooks headers, as a sender computes them."""
    sent = str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{sent}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": sent,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


@dataclass(eq=False)
class Calls(Observer):
    """What the handlers' own AWS calls did (local.intercept): DynamoDB operations, time inside DynamoDB and
    SNS calls, the last Query's index and counts. Calls outside a handler (inspection scans, the stream
    pump's polling) are not the handler's cost and are left out."""

    operations: Counter[str] = field(default_factory=Counter)
    aws_seconds: float = 0.0
    last_query: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        self.operations.clear()
        self.aws_seconds = 0.0

    def before(self, call: Call) -> None:
        if call.function is None or call.service != "dynamodb":
            return
        self.operations[call.operation] += 1
        if call.operation == "Query":
            self.last_query = {"index": call.params.get("IndexName") or "base table"}

    def after(self, call: Call, http_status: int, parsed: dict[str, Any]) -> None:
        if call.function is None or call.service not in {"dynamodb", "sns"}:
            return
        self.aws_seconds += time.perf_counter() - call.sent_at
        if call.service == "dynamodb" and call.operation == "Query" and http_status < 300:
            self.last_query.update(count=parsed.get("Count"), scanned=parsed.get("ScannedCount"))


@dataclass(frozen=True)
class Timed:
    """One handler invocation: total in-process time and the part spent inside AWS calls (moto)."""

    seconds: float
    aws_seconds: float
    operations: Counter[str]

    @property
    def own_seconds(self) -> float:
        return self.seconds - self.aws_seconds


@dataclass
class Harness:
    """The stack, the real handlers, and helpers to drive them like API Gateway and Lambda."""

    stack: Stack
    calls: Calls
    invoke: Callable[[str, dict[str, Any], FakeLambdaContext], Any] = field(init=False)

    def __post_init__(self) -> None:
        self.invoke = handler_invoker(self.stack.template)

    def api_event(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """(function, API Gateway event) for a request to one of the template's routes."""
        for route in self.stack.template.routes():
            params = route.match(path)
            if params is not None and route.method == method:
                all_headers = {"Content-Type": "application/json", "User-Agent": "bench", **(headers or {})}
                if route.api_key_required:
                    all_headers["x-api-key"] = "bench-api-key"
                key_id = API_KEY_ID if route.api_key_required else None
                event = api_gateway_event(method, path, route.path, params, query, all_headers, body, api_key_id=key_id)
                return route.function, event
        raise LookupError(f"no route for {method} {path} in template.yaml")

    def call(self, function: str, event: dict[str, Any]) -> tuple[dict[str, Any], Timed]:
        """The handler's result and its timing (the handler module is loaded before the clock starts)."""
        load_function(self.stack.template, function)
        context = make_context(self.stack.template, function)
        self.calls.reset()
        started = time.perf_counter()
        result: dict[str, Any] = self.invoke(function, event, context)
        elapsed = time.perf_counter() - started
        return result, Timed(elapsed, self.calls.aws_seconds, Counter(self.calls.operations))

    def push(self, charge_point: int, document: Any) -> tuple[list[int], Timed]:
        """A signed push (signing is not timed): the ids it got and its timing."""
        raw = json.dumps(document).encode()
        headers = sign(raw, f"msg_{uuid.uuid4().hex}")
        function, event = self.api_event("POST", PUSH_PATH.format(charge_point), body=raw, headers=headers)
        result, timed = self.call(function, event)
        if result["statusCode"] != 202:
            raise RuntimeError(f"push refused: {result['statusCode']} {result.get('body')}")
        return [int(i) for i in json.loads(result["body"])["ids"]], timed


@contextlib.contextmanager
def moto_bridge(calls: Calls) -> Iterator[Harness]:
    """A fresh in-memory account with the template's resources (handlers load on first use, untimed)."""
    with in_memory_aws(), observing(calls):
        stack = Stack.create(secrets=SECRETS)
        apply_environment(stack)
        ensure_layer_on_path()
        from bridge import secrets

        secrets.clear_cache()
        yield Harness(stack, calls)


# ====================================================================== write units
def attribute_size(name: str, value: dict[str, Any]) -> int:
    """DynamoDB's item-size rules for one attribute: name bytes plus value bytes."""
    return len(name.encode()) + _value_size(value)


def _value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        digits = str(inner).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(inner)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind in {"SS", "NS", "BS"}:
        return sum(_value_size({kind[0]: v}) for v in inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + attribute_size(k, v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(attribute_size(name, value) for name, value in item.items())


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str
    non_key: tuple[str, ...]


@dataclass(frozen=True)
class WriteCost:
    """Write units of one stored item: base table and every GSI the item has keys for."""

    base_bytes: int
    index_bytes: dict[str, int]
    transactional: bool

    @property
    def units(self) -> int:
        base = math.ceil(self.base_bytes / 1024) * (2 if self.transactional else 1)
        return base + sum(math.ceil(size / 1024) for size in self.index_bytes.values())


def table_indexes(template_model: TemplateModel) -> tuple[tuple[str, ...], list[Index]]:
    """(base key attributes, GSIs) of the security-events table, from the template."""
    props = template_model.resources[TABLE]["Properties"]
    base_keys = tuple(k["AttributeName"] for k in props["KeySchema"])
    indexes = [
        Index(
            gsi["IndexName"],
            tuple(k["AttributeName"] for k in gsi["KeySchema"]),
            gsi["Projection"]["ProjectionType"],
            tuple(gsi["Projection"].get("NonKeyAttributes", [])),
        )
        for gsi in props.get("GlobalSecondaryIndexes", [])
    ]
    return base_keys, indexes


def write_cost(
    item: dict[str, Any], base_keys: tuple[str, ...], indexes: Sequence[Index], transactional: bool
) -> WriteCost:
    index_bytes = {}
    for index in indexes:
        if not all(key in item for key in index.keys):
            continue  # sparse: no entry, no write
        if index.projection == "ALL":
            entry = item
        else:
            kept = {*base_keys, *index.keys, *(index.non_key if index.projection == "INCLUDE" else ())}
            entry = {k: v for k, v in item.items() if k in kept}
        index_bytes[index.name] = item_size(entry)
    return WriteCost(item_size(item), index_bytes, transactional)


def stored_items(stack: Stack) -> dict[int, dict[str, Any]]:
    """Every security-event item by id (an inspection Scan with its own client; not counted)."""
    import boto3

    client = boto3.client("dynamodb", region_name=REGION)
    items: dict[int, dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=stack.refs[TABLE]):
        for item in page["Items"]:
            if item.get("kind", {}).get("S") == "securityEvent":
                items[int(item["sk"]["N"])] = item
    return items


# ====================================================================== per-event cost
@dataclass
class PushRun:
    label: str
    events_per_request: int
    requests: list[Timed] = field(default_factory=list)
    ids: list[list[int]] = field(default_factory=list)
    relay: Timed | None = None
    relay_records: int = 0
    relay_invocations: int = 0
    relay_failed: int = 0


class TimedRelay:
    """The stream pump's invoke, timed: handler time, time inside AWS calls, records per invocation."""

    def __init__(self, harness: Harness) -> None:
        self._harness = harness
        self.reset()

    def __call__(self, function: str, event: dict[str, Any], context: FakeLambdaContext) -> Any:
        load_function(self._harness.stack.template, function)
        self._harness.calls.reset()
        started = time.perf_counter()
        try:
            return self._harness.invoke(function, event, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.aws_seconds += self._harness.calls.aws_seconds
            self.records += len(event.get("Records", []))
            self.invocations += 1

    def reset(self) -> None:
        self.seconds = self.aws_seconds = 0.0
        self.records = self.invocations = 0


def push_body(i: int, base: datetime) -> dict[str, Any]:
    return {
        "type": TYPES[i % len(TYPES)],
        "timestamp": (base + timedelta(seconds=37 * i, milliseconds=i % 1000)).isoformat(),
        "techInfo": f"bench event {i}: sensor {i % 5} reported",
    }


def _relay_into(run: PushRun, pump: StreamPump, relay: TimedRelay) -> None:
    failed_before = sum(len(f.records) for f in pump.failed)
    relay.reset()
    pump.drain(timeout=60)
    run.relay = Timed(relay.seconds, relay.aws_seconds, Counter())
    run.relay_records, run.relay_invocations = relay.records, relay.invocations
    run.relay_failed = sum(len(f.records) for f in pump.failed) - failed_before


def per_event_costs(harness: Harness) -> tuple[list[PushRun], dict[str, Any]]:
    relay = TimedRelay(harness)
    pump = StreamPump(harness.stack, harness.stack.template, relay)
    base = datetime(2026, 3, 1, tzinfo=UTC)
    # Warm-up, not measured: first secret fetch, client creation, first relay invocation.
    harness.push(999, push_body(0, base))
    pump.drain(timeout=30)

    # Batches first: moto's TransactWriteItems deep-copies the table once per item (its rollback), so its
    # time grows with the table; DynamoDB's does not.
    batches = PushRun(f"batch of {BATCH_SIZE}", BATCH_SIZE)
    for b in range(BATCHES):
        events = [push_body(10_000 + b * BATCH_SIZE + k, base) for k in range(BATCH_SIZE)]
        ids, timed = harness.push(100 + b, {"events": events})
        batches.ids.append(ids)
        batches.requests.append(timed)
    _relay_into(batches, pump, relay)

    singles = PushRun("single push", 1)
    for i in range(SINGLE_PUSHES):
        ids, timed = harness.push(1 + i % 20, push_body(i, base))
        singles.ids.append(ids)
        singles.requests.append(timed)
    _relay_into(singles, pump, relay)

    base_keys, indexes = table_indexes(harness.stack.template)
    items = stored_items(harness.stack)
    costs: dict[str, Any] = {"indexes": indexes}
    for run in (singles, batches):
        transactional = any("TransactWriteItems" in r.operations for r in run.requests)
        costs[run.label] = [
            [write_cost(items[i], base_keys, indexes, transactional) for i in request_ids] for request_ids in run.ids
        ]
    return [singles, batches], costs


def print_per_event(out: TextIO, runs: Sequence[PushRun], costs: dict[str, Any]) -> None:
    print(
        f"\nPer event: webhooks handler in-process on moto, after one warm-up request; times in ms "
        f"({SINGLE_PUSHES} single pushes, {BATCHES} batches)",
        file=out,
    )
    rows = []
    for run in runs:
        requests = len(run.requests)
        events = sum(len(ids) for ids in run.ids)
        seconds = [r.seconds for r in run.requests]
        own = [r.own_seconds for r in run.requests]
        operations: Counter[str] = Counter()
        for r in run.requests:
            operations.update(r.operations)
        request_costs: list[list[WriteCost]] = costs[run.label]
        units = [sum(c.units for c in request) for request in request_costs]
        relay_all = relay_own = "-"
        if run.relay is not None and run.relay_records:
            relay_all = ms(run.relay.seconds / run.relay_records)
            relay_own = ms(run.relay.own_seconds / run.relay_records)
        if run.relay_failed:
            relay_all = f"{run.relay_failed} FAILED"
        rows.append(
            [
                run.label,
                str(requests),
                ms(statistics.median(seconds)),
                ms(p95(seconds)),
                ms(statistics.median(own)),
                ms(statistics.median(own) / run.events_per_request),
                f"{operations.total() / requests:.2f}",
                ", ".join(sorted(operations)),
                f"{statistics.mean(units):.1f}",
                f"{sum(units) / events:.1f}",
                relay_all,
                relay_own,
                f"{run.relay_records}/{run.relay_invocations}",
            ]
        )
    headers = ["scenario", "reqs", "median", "p95", "own", "own/event", "DDB calls", "operation", "WCU/req"]
    headers += ["WCU/event", "relay/rec", "own/rec", "recs/invokes"]
    table(out, headers, rows, "lrrrrrrlrrrrr")
    sizes: list[WriteCost] = [c for run in runs for request in costs[run.label] for c in request]
    base_sizes = [c.base_bytes for c in sizes]
    index_sizes = [size for c in sizes for size in c.index_bytes.values()]
    indexes: list[Index] = costs["indexes"]
    print(
        f"  item sizes: base {min(base_sizes)}-{max(base_sizes)} B, index entries {min(index_sizes)}-"
        f"{max(index_sizes)} B ({len(indexes)} GSIs: {', '.join(i.name for i in indexes)})",
        file=out,
    )
    print(
        "  own: handler time outside the AWS round trips (botocore's before-call to after-call: sending, moto,\n"
        "  parsing), so our code, Powertools and botocore's request building;\n"
        "  moto's TransactWriteItems deep-copies the table per item, which is most of the batch's median.\n"
        "  WCU: each item write rounds up to 1 KB, on the base table and on every GSI the item has keys for;\n"
        "  a transactional write (the batch's TransactWriteItems) counts twice on the base table.\n"
        "  relay/rec: relay handler time per stream record drained by the stream pump (SNS publish to moto and\n"
        "  delivery to the subscriber queues included); own/rec: the part outside AWS calls.",
        file=out,
    )


# ====================================================================== listing
@dataclass
class ListingRow:
    filters: str
    index: str
    returned: int
    count: int
    scanned: int
    runs: list[Timed]


def listing_costs(harness: Harness) -> list[ListingRow]:
    base = datetime(2026, 3, 1, tzinfo=UTC)
    charge_points = 10
    # Single pushes (moto's transactions are slow to seed with); every charge point spans the ten days,
    # types cycle independently of charge points.
    for i in range(SEEDED):
        at = base + timedelta(seconds=864 * i, milliseconds=i)
        body = {"type": TYPES[i % len(TYPES)], "timestamp": at.isoformat(), "techInfo": f"seed {i}"}
        harness.push(1 + i % charge_points, body)

    values = {
        "type": "TamperDetectionActivated",
        "chargePoint": "3",
        "timestampFrom": (base + timedelta(days=2)).isoformat().replace("+00:00", "Z"),
        "timestampTo": (base + timedelta(days=7)).isoformat().replace("+00:00", "Z"),
    }
    rows = []
    for size in range(len(values) + 1):
        for names in itertools.combinations(values, size):
            query = [(f"filter[{name}]", values[name]) for name in names] + [("per_page", "100")]
            function, event = harness.api_event("GET", LISTING, query)
            harness.call(function, event)  # warm-up
            runs = []
            returned = 0
            for _ in range(LISTING_RUNS):
                result, timed = harness.call(function, event)
                if result["statusCode"] != 200:
                    raise RuntimeError(f"listing {urlencode(query)}: {result['statusCode']} {result.get('body')}")
                runs.append(timed)
                returned = len(json.loads(result["body"])["data"])
            last = harness.calls.last_query
            rows.append(
                ListingRow(
                    "+".join(SHORT[name] for name in names) or "(none)",
                    str(last.get("index")),
                    returned,
                    int(last.get("count") or 0),
                    int(last.get("scanned") or 0),
                    runs,
                )
            )
    return rows


def print_listing(out: TextIO, rows: Sequence[ListingRow]) -> None:
    print(
        f"\nListing: first page (per_page 100) over {SEEDED} seeded events (10 charge points, 7 types, 10 days), "
        f"median of {LISTING_RUNS} after one warm-up; times in ms",
        file=out,
    )
    body = [
        [
            r.filters,
            r.index,
            str(r.returned),
            str(r.count),
            str(r.scanned),
            "yes" if r.count == r.scanned else "NO",
            f"{statistics.mean(t.operations.total() for t in r.runs):.0f}",
            ms(statistics.median(t.seconds for t in r.runs)),
            ms(statistics.median(t.own_seconds for t in r.runs)),
        ]
        for r in rows
    ]
    headers = ["filters", "key / index", "rows", "Count", "Scanned", "equal", "DDB calls", "median", "own"]
    table(out, headers, body, "llrrrrrrr")
    print(
        "  Count and ScannedCount are the Query's own (Limit = per_page + 1 tells whether a next page exists):\n"
        "  equal means no item is read and thrown away, so a page costs what it returns. moto reads the whole\n"
        "  partition for every Query, so its time grows with the table; own: the handler outside AWS calls.\n"
        "  filters: type, cp = chargePoint, from/to = timestampFrom/timestampTo (a five-day window).",
        file=out,
    )


# ====================================================================== main
def main() -> int:
    out = sys.stdout
    started = time.perf_counter()
    failures = 0
    template_model = TemplateModel(load_template())
    cold = cold_starts(template_model)
    print_cold_starts(out, cold)
    failures += sum(1 for c in cold if c.error)
    out.flush()

    set_fake_environment()
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    calls = Calls()
    # The handlers print EMF metrics and logs to stdout; the figures go to the real one.
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        try:
            with moto_bridge(calls) as harness:
                runs, costs = per_event_costs(harness)
            print_per_event(out, runs, costs)
            failures += sum(1 for run in runs if run.relay_failed)
        except Exception as exc:
            print(f"\nPer event: FAILED: {type(exc).__name__}: {exc}", file=out)
            failures += 1
        out.flush()
        try:
            with moto_bridge(calls) as harness:
                listing = listing_costs(harness)
            print_listing(out, listing)
        except Exception as exc:
            print(f"\nListing: FAILED: {type(exc).__name__}: {exc}", file=out)
            failures += 1
    print(f"\n(bench took {time.perf_counter() - started:.1f} s)", file=out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
