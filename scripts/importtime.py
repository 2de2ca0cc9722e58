"""Per function, the handler module's import in a fresh interpreter, with .pyc, and where the time goes.

    .venv/bin/python scripts/importtime.py [--runs 9] [--top 12] [--param Tracing=Active]
                                           [--imports WebhooksFunction=/tmp/webhooks-imports.txt]

Each function runs as Lambda lays it out (its code directory first, then the layer's `shared/`), with its
template environment (parameter defaults, dummy resource ids) plus what Lambda sets. A first run writes every
.pyc under a private prefix; the timed runs then import with bytecode. The median import time (wall clock, and
the process's CPU time, which a busy machine disturbs less) is printed, then
the modules with the most cumulative time in one `-X importtime` run. `--imports` writes a function's full
import list (every module, sorted by cumulative time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.aws import ACCOUNT_ID, REGION  # noqa: E402 - the repository root goes on the path first
from local.stack import Stack  # noqa: E402
from local.template import TemplateModel, load_template  # noqa: E402

MARKER = "--- handler import ---"
CHILD = f"""
import importlib, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
sys.stderr.write({MARKER!r} + "\\n")
sys.stderr.flush()
started, cpu = time.perf_counter(), time.process_time()
importlib.import_module(sys.argv[3])
sys.stdout.write(repr(time.perf_counter() - started) + " " + repr(time.process_time() - cpu))
"""


class _Refs(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return f"dummy-{key}"


class _Attrs(dict[tuple[str, str], str]):
    def __missing__(self, key: tuple[str, str]) -> str:
        return f"arn:aws:dummy:{REGION}:{ACCOUNT_ID}:{key[0]}"


def environment(model: TemplateModel, function: str, overrides: dict[str, Any]) -> dict[str, str]:
    """The function's template environment, with what Lambda itself sets."""
    stack = Stack(model, {**model.parameter_defaults(), **overrides}, refs=_Refs(), attrs=_Attrs())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "POWERTOOLS_", "AWS_"))}
    env.update(stack.function_environment(function))
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "LAMBDA_TASK_ROOT": str(model.function_code_dir(function)),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    return env


def run(model: TemplateModel, function: str, env: dict[str, str], *, importtime: bool) -> tuple[float, float, str]:
    """(import seconds, CPU seconds, stderr) of one fresh interpreter importing the handler module."""
    code_dir = model.function_code_dir(function)
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", CHILD]
    command += [str(code_dir), str(ROOT / "shared"), "app"]
    done = subprocess.run(command, cwd=code_dir, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"{function}: import failed\n{done.stderr[-2000:]}")
    wall, cpu = (float(value) for value in done.stdout.split())
    return wall, cpu, done.stderr


def modules(stderr: str) -> list[tuple[str, int, int, int]]:
    """(module, self µs, cumulative µs, depth) for every import after the marker, by cumulative time."""
    lines = stderr.splitlines()
    found = []
    for line in lines[lines.index(MARKER) + 1 :]:
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|", 2)
        if not cumulative.strip().isdigit():
            continue
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        found.append((name.strip(), int(own), int(cumulative), depth))
    return sorted(found, key=lambda m: m[2], reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--function", action="append", help="logical id (default: every function)")
    parser.add_argument("--param", action="append", default=[], help="template parameter override, Name=Value")
    parser.add_argument("--imports", action="append", default=[], help="Function=PATH: write its full import list")
    args = parser.parse_args()
    model = TemplateModel(load_template())
    overrides = dict(p.split("=", 1) for p in args.param)
    lists = dict(i.split("=", 1) for i in args.imports)
    functions = args.function or list(model.functions())
    print(f"handler import, fresh interpreter, with .pyc (Python {sys.version.split()[0]}); median of {args.runs}")
    if overrides:
        print(f"parameters: {overrides}")
    with tempfile.TemporaryDirectory(prefix="importtime-pyc-") as pycache:
        for function in functions:
            env = {**environment(model, function, overrides), "PYTHONPYCACHEPREFIX": pycache}
            run(model, function, env, importtime=False)  # writes the .pyc files
            runs = [run(model, function, env, importtime=False) for _ in range(args.runs)]
            walls, cpus = [r[0] * 1000 for r in runs], [r[1] * 1000 for r in runs]
            _, _, stderr = run(model, function, env, importtime=True)
            found = modules(stderr)
            print(
                f"\n{function}: {statistics.median(walls):.1f} ms (min {min(walls):.1f}; "
                f"CPU median {statistics.median(cpus):.1f}, min {min(cpus):.1f})"
            )
            print(f"  {len(found)} modules imported; top by cumulative ms (self ms):")
            for name, own, cumulative, depth in found[: args.top]:
                print(f"    {cumulative / 1000:7.1f}  ({own / 1000:5.1f})  {'  ' * depth}{name}")
            if function in lists:
                with open(lists[function], "w") as out:
                    out.write(f"# {function}: {len(found)} modules, cumulative µs, self µs, depth, module\n")
                    for name, own, cumulative, depth in found:
                        out.write(f"{cumulative:8d} {own:7d} {depth:2d} {name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
