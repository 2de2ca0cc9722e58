"""Cold starts: a fresh interpreter imports a function's handler and handles its first event (`bench_child`).

Per function and round, interleaved: the function as `make build` ships it (with .pyc), its baseline (boto3, the
clients of the services the function's first event used, one put_item, with .pyc), and the function without any
.pyc. Every AWS call is answered from the answers recorded in phase one; the tenant is the simulator. The ratio of
a round is the function's time over its baseline's, both measured inside the interpreter from the handler
import to the end of the first event; the figure is the median of the rounds' ratios (one warm-up round first,
so the file cache is warm for all three).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import bench_child
from local.aws import ACCOUNT_ID, REGION
from local.bench_layout import Layout
from local.bench_report import Progress, median
from local.lambda_runtime import function_settings
from local.template import TemplateModel

ROUNDS = 5
CHILD = Path(bench_child.__file__)
BASELINE_SOURCE = '''"""The cold-start baseline: import boto3, create the clients, one put_item."""

import boto3

CLIENTS = {{service: boto3.client(service) for service in {services!r}}}


def lambda_handler(event, context):
    CLIENTS["dynamodb"].put_item(TableName={table!r}, Item={{"pk": {{"S": "bench"}}, "sk": {{"N": "1"}}}})
    return {{"statusCode": 200}}
'''


@dataclass
class Cold:
    """One function's runs, in seconds: (with .pyc, baseline, without .pyc) per round."""

    function: str
    rounds: list[tuple[float, float, float]] = field(default_factory=list)
    peak_rss_kib: list[int] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    error: str = ""

    def ratio(self, compiled: bool = True) -> float:
        return median([(c if compiled else s) / b for c, b, s in self.rounds])

    def ms(self, which: int) -> float:
        return median([r[which] for r in self.rounds]) * 1000


def baseline_source(services: set[str], table: str) -> str:
    return BASELINE_SOURCE.format(services=sorted(services | {"dynamodb"}), table=table)


def lambda_environment(template_model: TemplateModel, function: str, home: str, traced: bool) -> dict[str, str]:
    """What Lambda's runtime sets, with fake credentials (nothing is sent anyway)."""
    _, memory = function_settings(template_model, function)
    trace = (
        f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled={int(traced)}"
    )
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0",
        "AWS_SECRET_ACCESS_KEY": "bench-secret-access-key",
        "AWS_SESSION_TOKEN": "bench-session-token",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/30/[$LATEST]bench",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "_X_AMZN_TRACE_ID": trace,
        "_HANDLER": "app.lambda_handler",
    }


def run(
    layout: Layout,
    template_model: TemplateModel,
    environments: Mapping[str, Mapping[str, str]],
    events: Mapping[str, Callable[[], dict[str, Any]]],
    traced: Mapping[str, bool],
    answers: Path,
    progress: Progress,
) -> dict[str, Cold]:
    """ROUNDS rounds (after a warm-up round) of every function with an event: with .pyc, baseline, without."""
    results = {f: Cold(f) for f in template_model.functions()}
    for function, cold in results.items():
        if function not in events:
            cold.error = "no first event for it"
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as scratch:
        for round_ in range(ROUNDS + 1):
            progress(f"cold: round {round_ + 1} of {ROUNDS + 1}" + (" (warm-up)" if not round_ else ""))
            for function, cold in results.items():
                if cold.error:
                    continue
                progress(f"cold: round {round_ + 1} of {ROUNDS + 1}, {function}", every=4)
                env = {**lambda_environment(template_model, function, scratch, traced.get(function, False))}
                env.update(environments[function])
                timeout, memory = function_settings(template_model, function)
                spec = {
                    "module": "app",
                    "handler": "lambda_handler",
                    "answers": str(answers),
                    "function_name": function,
                    "function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}",
                    "memory": memory,
                    "timeout": timeout,
                }
                try:
                    runs = [
                        _child(spec, layout.paths(function, compiled=True), events[function](), env, scratch),
                        _child(spec, layout.baseline_paths(function), {}, env, scratch),
                        _child(spec, layout.paths(function, compiled=False), events[function](), env, scratch),
                    ]
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    cold.error = str(exc)
                    continue
                if round_:
                    cold.rounds.append((runs[0]["total"], runs[1]["total"], runs[2]["total"]))
                    cold.peak_rss_kib.append(int(runs[0]["peak_rss_kib"]))
                cold.calls = list(runs[0]["aws_calls"])
    return results


def _child(
    base: Mapping[str, Any], paths: list[str], event: dict[str, Any], env: Mapping[str, str], scratch: str
) -> dict[str, Any]:
    """One fresh interpreter; RuntimeError when it failed, a call had no answer, or the handler refused."""
    spec_path = Path(scratch, "spec.json")
    result_path = Path(scratch, "result.json")
    result_path.unlink(missing_ok=True)
    spec_path.write_text(json.dumps({**base, "paths": paths, "event": event, "result": str(result_path)}))
    # -E: no PYTHON* variables; -S: no site-packages (only the layout's paths); -B: nothing written (read-only).
    command = [sys.executable, "-E", "-S", "-B", str(CHILD), str(spec_path)]
    done = subprocess.run(  # noqa: S603 - this interpreter, the bench's own script
        command, cwd=scratch, env=dict(env), capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0 or not result_path.exists():
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"exit status {done.returncode}")
    outcome: dict[str, Any] = json.loads(result_path.read_text())
    if outcome["misses"]:
        raise RuntimeError(f"no recorded answer for {sorted(set(outcome['misses']))}")
    answer = str(outcome["answer"])
    if answer.startswith("status ") and not answer.removeprefix("status ").startswith("2"):
        raise RuntimeError(f"the first event was answered {answer}")
    if answer.endswith("failed items") and not answer.startswith("0 "):
        raise RuntimeError(f"the first event left {answer}")
    return outcome
