"""Runs the real handlers in-process: module loading, a Lambda context, the environment, API GW events."""

from __future__ import annotations

import base64
import importlib.util
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from local import concurrency
from local.aws import ACCOUNT_ID, REGION
from local.intercept import acting_as
from local.stack import Stack
from local.template import ROOT, TemplateModel

SHARED_DIR = ROOT / "shared"
# A stable, plausible REST API id: handlers may echo it in links or logs.
API_ID = "b1dg3l0c4l"

Invoke = Callable[[str, dict[str, Any], "FakeLambdaContext"], Any]
"""(function logical id, event, context) -> the handler's return value."""

_modules: dict[str, ModuleType] = {}
_modules_lock = threading.Lock()


def ensure_layer_on_path() -> None:
    """Make the layer package `bridge` importable, as Lambda does with /opt/python."""
    shared = str(SHARED_DIR)
    if shared not in sys.path:
        sys.path.insert(0, shared)


def _handler_spec(template_model: TemplateModel, function: str) -> tuple[str, str]:
    """("app", "lambda_handler") from `Handler: app.lambda_handler` (Globals may hold it)."""
    props = template_model.functions()[function]["Properties"]
    handler = props.get("Handler") or template_model.raw.get("Globals", {}).get("Function", {}).get("Handler")
    module, _, attribute = str(handler or "app.lambda_handler").rpartition(".")
    return module, attribute


def module_name(template_model: TemplateModel, function: str) -> str:
    """A unique module name per function: every handler is `app.py`, and the first would shadow the rest."""
    code_dir = template_model.function_code_dir(function)
    return "fn_" + code_dir.name.replace("-", "_")


def load_function(template_model: TemplateModel, function_logical_id: str) -> ModuleType:
    """The function's handler module, imported by file path once and cached."""
    name = module_name(template_model, function_logical_id)
    with _modules_lock:
        if name in _modules:
            return _modules[name]
        ensure_layer_on_path()
        code_dir = template_model.function_code_dir(function_logical_id)
        handler_module, _ = _handler_spec(template_model, function_logical_id)
        path = code_dir / (handler_module.replace(".", "/") + ".py")
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {function_logical_id} from {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        # Lambda puts the code directory first on sys.path; do the same while the module imports, so a
        # sibling helper module resolves. (Siblings with equal names in two functions would still clash.)
        sys.path.insert(0, str(code_dir))
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            sys.path.remove(str(code_dir))
        _modules[name] = module
        return module


def function_settings(template_model: TemplateModel, function: str) -> tuple[int, int]:
    """(timeout seconds, memory MB) with Globals applied."""
    globals_fn = template_model.raw.get("Globals", {}).get("Function", {})
    props = template_model.functions()[function]["Properties"]
    timeout = int(props.get("Timeout", globals_fn.get("Timeout", 3)))
    memory = int(props.get("MemorySize", globals_fn.get("MemorySize", 128)))
    return timeout, memory


class FakeLambdaContext:
    """The attributes and method of Lambda's Python context object that handlers and Powertools use."""

    def __init__(self, function_name: str, timeout_seconds: float = 10, memory: int = 512) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def make_context(template_model: TemplateModel, function: str) -> FakeLambdaContext:
    """A context with the function's own timeout and memory from the template."""
    timeout, memory = function_settings(template_model, function)
    return FakeLambdaContext(function, timeout_seconds=timeout, memory=memory)


def handler_invoker(template_model: TemplateModel) -> Invoke:
    """An `Invoke` that calls the real handler of each function, its AWS calls attributed to the function."""
    concurrency.install()  # invocations share one process here, and Powertools' process-wide state with it

    def invoke(function: str, event: dict[str, Any], context: FakeLambdaContext) -> Any:
        # The AWS calls of the import (the init phase) and of the handler are the function's own.
        with acting_as(function):
            first = load_function(template_model, function)
            _, attribute = _handler_spec(template_model, function)
            with concurrency.lease(first) as module:  # one invocation at a time per module, as per container
                return getattr(module, attribute)(event, context)

    return invoke


def apply_environment(stack: Stack) -> dict[str, str]:
    """Put every function's environment into os.environ (one process hosts all functions).

    Call before any handler is imported: handlers read their configuration at cold start.
    """
    merged: dict[str, str] = {}
    for function in stack.template.functions():
        for key, value in stack.function_environment(function).items():
            if merged.get(key, value) != value:
                raise ValueError(f"{key} differs between functions; one process cannot host both values")
            merged[key] = value
    os.environ.update(merged)
    return merged


# --------------------------------------------------------------------------- API Gateway events
Headers = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


def _header_pairs(headers: Headers) -> list[tuple[str, str]]:
    if isinstance(headers, Mapping):
        pairs: list[tuple[str, str]] = []
        for name, value in headers.items():
            values = [value] if isinstance(value, str) else list(value)
            pairs.extend((name, v) for v in values)
        return pairs
    return [(name, value) for name, value in headers]


def _group(pairs: Iterable[tuple[str, str]], fold_case: bool) -> dict[str, list[str]]:
    """Values by name; header names group case-insensitively under the first spelling seen."""
    grouped: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower() if fold_case else name
        grouped.setdefault(spelling.setdefault(key, name), []).append(value)
    return grouped


def _last(values: Mapping[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    return found[-1] if found else None


def api_gateway_event(
    method: str,
    path: str,
    resource: str,
    path_parameters: Mapping[str, str] | None,
    query: Sequence[tuple[str, str]],
    headers: Headers,
    body: bytes | None,
    stage: str = "v1",
    api_key_id: str | None = None,
    *,
    context_path: str | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy event, shaped as API Gateway sends it.

    `path` is the resource path without the stage (decoded), as `event.path` carries it; `resource` the
    route template (`/x/{id}`). `query` holds decoded pairs in request order. Headers missing from
    `headers` that API Gateway always adds (Host, X-Forwarded-*, X-Amzn-Trace-Id) are filled in.
    `context_path` is `requestContext.path`: `/{stage}{path}` on the execute-api host (the default); the
    local server passes `path`, because it serves without a stage prefix.
    `api_key_id` marks the method as key-protected: identity.apiKeyId is set and identity.apiKey carries
    the `x-api-key` the client sent.
    """
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    pairs = _header_pairs(headers)
    present = {name.lower() for name, _ in pairs}
    defaults = {
        "Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "X-Amzn-Trace-Id": f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}",
        "X-Forwarded-For": source_ip,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    pairs += [(name, value) for name, value in defaults.items() if name.lower() not in present]
    multi_headers = _group(pairs, fold_case=True)
    lower = {name.lower(): values for name, values in multi_headers.items()}
    multi_query = _group(query, fold_case=False)
    host = lower["host"][-1]

    text: str | None = None
    is_base64 = False
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode("ascii"), True

    api_key = _last(lower, "x-api-key") if api_key_id else None
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        # API Gateway keeps the last of repeated values in the single-value maps.
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": host.split(":")[0],
            "domainPrefix": host.split(".")[0],
            "extendedRequestId": base64.b32encode(uuid.uuid4().bytes).decode("ascii")[:16],
            "httpMethod": method.upper(),
            "identity": {
                "accessKey": None,
                "accountId": None,
                "apiKey": api_key,
                "apiKeyId": api_key_id,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip,
                "user": None,
                "userAgent": _last(lower, "user-agent"),
                "userArn": None,
                "clientCert": None,
            },
            "path": context_path if context_path is not None else f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "resourceId": uuid.uuid4().hex[:6],
            "resourcePath": resource,
            "stage": stage,
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }
