"""One cold start, in a fresh interpreter laid out as Lambda lays a function out: run by `local.bench_cold`.

    python -E -S -B local/bench_child.py SPEC.json

SPEC names the sys.path entries (the function's code directory, the layer's `python/`, the runtime's packages),
the handler module and function, the first event, a file of recorded AWS answers and where to write the result.
Nothing from the repository or the virtualenv is importable: only what the path entries hold, and the standard
library. Every AWS call is answered from the recorded answers in botocore's `before-send` (request built, signed
and the answer parsed as usual; nothing leaves the process), installed the moment `botocore.handlers` is
imported so that every session gets it. A call without a recorded answer fails (it never reaches the network).

Standard library only, and importable by the bench itself: the answer keys and responses are made here for both.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

Answers = dict[str, list[Any]]  # key -> [status, headers, base64 body]
_DISCRIMINATORS = ("TableName", "IndexName", "SecretId", "TopicArn", "QueueUrl")


def answer_key(service: str, operation: str, params: Mapping[str, Any]) -> str:
    """The key a recorded answer is kept under: the operation and what it is about (table, index, secret...)."""
    about = [str(params.get(name, "")) for name in _DISCRIMINATORS]
    return "|".join([service, operation, *about])


def fallback_key(key: str) -> str:
    """The operation alone, for a call about something never recorded (another table's PutItem answers alike)."""
    return "|".join(key.split("|")[:2])


class _Raw:
    """What botocore reads an answer's body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body


class Replay:
    """Answers botocore calls from recorded answers; `install(handlers)` puts it into botocore's builtin handlers."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        for key, answer in list(answers.items()):
            answers.setdefault(fallback_key(key), answer)
        self.calls: list[str] = []
        self.misses: list[str] = []
        self._pending: list[str] = []

    def handlers(self) -> list[tuple[str, Callable[..., Any]]]:
        return [("before-parameter-build", self.before_parameter_build), ("before-send", self.before_send)]

    def install(self, builtin_handlers: list[Any]) -> None:
        builtin_handlers.extend(self.handlers())

    def before_parameter_build(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        self._pending.append(answer_key(model.service_model.service_name, model.name, params))

    def before_send(self, request: Any, **_: Any) -> Any:
        key = self._pending.pop() if self._pending else "?|?"
        answer = self.answers.get(key) or self.answers.get(fallback_key(key))
        self.calls.append(key)
        if answer is None:
            self.misses.append(key)
            raise RuntimeError(f"bench: no recorded answer for {key}")
        from botocore.awsrequest import AWSResponse
        from botocore.compat import HTTPHeaders

        status, headers, body = answer
        http_headers = HTTPHeaders()
        for name, value in headers.items():
            http_headers[name] = value
        return AWSResponse(request.url, status, http_headers, _Raw(base64.b64decode(body)))


class _Hook:
    """Installs the replay into `botocore.handlers` as that module is imported (before any session exists)."""

    def __init__(self, replay: Replay) -> None:
        self._replay = replay

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "botocore.handlers":
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        loader, replay = spec.loader, self._replay
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            original(module)
            replay.install(module.BUILTIN_HANDLERS)

        loader.exec_module = exec_module
        return spec


class _Context:
    """Lambda's context object, as far as handlers and Powertools read it."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.function_name = spec["function_name"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = spec["memory"]
        self.invoked_function_arn = spec["function_arn"]
        self.aws_request_id = "bench-0000-0000-0000-000000000001"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "2026/11/30/[$LATEST]bench"
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = time.monotonic() + float(spec["timeout"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def summary(result: Any) -> str:
    """What the handler answered, shortly: an API status, failed batch items, or the result's keys."""
    if isinstance(result, dict) and "statusCode" in result:
        return f"status {result['statusCode']}"
    if isinstance(result, dict) and "batchItemFailures" in result:
        return f"{len(result['batchItemFailures'])} failed items"
    return "ok" if result is None or isinstance(result, dict) else type(result).__name__


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM): ru_maxrss would carry the parent's from before exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def run(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Import the handler and handle the first event; times in seconds, peak RSS in KiB."""
    with open(spec["answers"]) as answers_file:
        replay = Replay(json.load(answers_file))
    sys.meta_path.insert(0, _Hook(replay))
    event, context = spec["event"], _Context(spec)
    started = time.perf_counter()
    module = __import__(spec["module"], fromlist=["_"])
    imported = time.perf_counter()
    result = getattr(module, spec["handler"])(event, context)
    handled = time.perf_counter()
    return {
        "import": imported - started,
        "first_event": handled - imported,
        "total": handled - started,
        "peak_rss_kib": peak_rss_kib(),
        "answer": summary(result),
        "aws_calls": replay.calls,
        "misses": replay.misses,
    }


def main(argv: list[str]) -> int:
    with open(argv[1]) as spec_file:
        spec = json.load(spec_file)
    # Lambda's order: the code directory, the layer, the runtime; then the standard library. Not this file's own.
    sys.path[:] = [*spec["paths"], *sys.path[1:]]
    outcome = run(spec)
    with open(spec["result"], "w") as result_file:
        json.dump(outcome, result_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
