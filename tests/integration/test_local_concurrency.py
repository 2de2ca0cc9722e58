"""Handlers that run on threads of one process (the local run) keep each invocation to itself.

Lambda runs one invocation per container; Powertools keeps the event being handled and the metric set
process-wide. The local runtime makes both safe for concurrent invocations.
"""

from __future__ import annotations

import json
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from local import concurrency
from local.lambda_runtime import api_gateway_event, handler_invoker, load_function, make_context
from local.template import TemplateModel

THREADS, CALLS = 8, 25

ECHO_HANDLER = """
import time

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

MARK = "as imported"
app = APIGatewayRestResolver()


@app.post("/echo/<name>")
def echo(name):
    app.append_context(body=app.current_event.body)  # Powertools keeps the route's arguments there too
    time.sleep(0.002)  # another invocation may run meanwhile, as a DynamoDB call lets it
    return {"name": name, "event": app.current_event.body, "context": app.context.get("body"), "mark": MARK}


def lambda_handler(event, context):
    return app.resolve(event, context)
"""


@pytest.fixture
def echo(tmp_path: Path) -> TemplateModel:
    code = tmp_path / f"echo_{tmp_path.name}"
    code.mkdir()
    (code / "app.py").write_text(ECHO_HANDLER)
    properties = {"CodeUri": str(code), "Handler": "app.lambda_handler"}
    return TemplateModel(
        {"Resources": {"EchoFunction": {"Type": "AWS::Serverless::Function", "Properties": properties}}}
    )


@pytest.fixture
def busy_switching() -> Iterator[None]:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: a race shows within a few rounds
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def on_threads(work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def call(template_model: TemplateModel, name: str, body: str) -> dict[str, Any]:
    path = f"/echo/{name}"
    event = api_gateway_event("POST", path, "/echo/{name}", {"name": name}, [], {}, body.encode())
    answer = handler_invoker(template_model)("EchoFunction", event, make_context(template_model, "EchoFunction"))
    return dict(json.loads(answer["body"]))


def test_concurrent_invocations_each_see_their_own_event_and_arguments(echo: TemplateModel) -> None:
    crossed: list[tuple[str, dict[str, Any]]] = []

    def client(n: int) -> None:
        for k in range(CALLS):
            sent = f"client {n} call {k}"
            seen = call(echo, f"c{n}", sent)
            if seen != {"name": f"c{n}", "event": sent, "context": sent, "mark": "as imported"}:
                crossed.append((sent, seen))

    on_threads(client)

    assert crossed == []
    assert concurrency.containers(load_function(echo, "EchoFunction")) <= THREADS  # reused, as warm ones are


def test_one_invocation_at_a_time_runs_in_the_module_load_function_gives(echo: TemplateModel) -> None:
    module: Any = load_function(echo, "EchoFunction")
    module.MARK = "patched by a test"

    assert call(echo, "alone", "body")["mark"] == "patched by a test"


def test_concurrent_invocations_flushing_metrics_never_fail(
    busy_switching: None, capsys: pytest.CaptureFixture[str]
) -> None:
    concurrency.install()
    metrics = Metrics(namespace="LocalRun", service="concurrency")
    errors: list[BaseException] = []

    def invocation(_: int) -> None:
        for _ in range(CALLS * 10):
            try:
                metrics.add_metric(name="Stored", unit=MetricUnit.Count, value=1)
                metrics.flush_metrics()
            except Exception as error:  # what the handler's decorator would turn into a 502
                errors.append(error)
                return

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an invocation whose metric another one flushed warns it has none
        on_threads(invocation)

    capsys.readouterr()
    assert errors == []
