"""The cold path: what a handler imports, how many botocore sessions a cold start builds, tracing on and off.

Every case runs in a fresh interpreter (a cold start is a new process; this one has imported everything already),
with the function's environment from template.yaml and the variables Lambda sets, so Powertools believes it runs
in Lambda.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.aws import ACCOUNT_ID, REGION
from local.stack import Stack
from local.template import ROOT, Tag, TemplateModel, load_template

FUNCTIONS = [
    "WebhooksFunction",
    "QueriesFunction",
    "StartsFunction",
    "RelayFunction",
    "FinaliserFunction",
    "ReconcilerFunction",
]
BATCH_FUNCTIONS = {"RelayFunction", "FinaliserFunction"}  # Powertools' batch module imports asyncio itself
NEVER_ON_A_PATH = [
    "aws_xray_sdk",
    "wrapt",
    "aws_lambda_powertools.event_handler.appsync",
    "aws_lambda_powertools.event_handler.bedrock_agent",
    "aws_lambda_powertools.utilities.parameters.appconfig",
    "aws_lambda_powertools.utilities.parameters.dynamodb",
    "aws_lambda_powertools.utilities.parameters.ssm",
    "aws_lambda_powertools.utilities.data_classes.appsync_resolver_event",
    "aws_lambda_powertools.utilities.data_classes.code_pipeline_job_event",
]

# Imports the handler as Lambda's bootstrap does, with botocore sessions counted, and says what happened.
_IMPORT_CHILD = """
import gc, importlib, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
thresholds = gc.get_threshold()
import botocore.session
sessions = []
_init = botocore.session.Session.__init__
def counted(self, *args, **kwargs):
    sessions.append(1)
    _init(self, *args, **kwargs)
botocore.session.Session.__init__ = counted
handler = importlib.import_module("app")
from bridge.observability import tracer
import botocore.client
layers, function = [], handler.lambda_handler
while function is not None:  # the decorators' own code, which functools.wraps does not rename
    layers.append(function.__code__.co_qualname)
    function = getattr(function, "__wrapped__", None)
print(json.dumps({
    "modules": sorted(sys.modules),
    "sessions": len(sessions),
    "settled": gc.get_threshold() == thresholds and gc.get_freeze_count() > 0,
    "tracer": type(tracer.tracer).__name__,
    "wrapped": any(layer.startswith("Tracer.") for layer in layers),
    "patched": type(vars(botocore.client.BaseClient)["_make_api_call"]).__name__ == "FunctionWrapper",  # wrapt's
}))
"""

# A cold start and the first event on moto, built from template.yaml: the botocore sessions and clients that the
# function's own code (the package, Powertools, the X-Ray SDK) creates, told apart from the harness's by the stack.
_EVENT_CHILD = """
import collections, json, sys, traceback
from local.aws import set_fake_environment
set_fake_environment()
import botocore.session
OWN = ("/shared/bridge/", "/functions/", "/aws_lambda_powertools/", "/aws_xray_sdk/")
sessions, clients = [], collections.Counter()
counting = False
def own():
    return counting and any(part in frame.filename for frame in traceback.extract_stack() for part in OWN)
_init, _create = botocore.session.Session.__init__, botocore.session.Session.create_client
def counted_init(self, *args, **kwargs):
    if own():
        sessions.append(1)
    _init(self, *args, **kwargs)
def counted_create(self, service, *args, **kwargs):
    if own():
        clients[service] += 1
    return _create(self, service, *args, **kwargs)
botocore.session.Session.__init__ = counted_init
botocore.session.Session.create_client = counted_create
from tests.harness import open_bridge, security_event
with open_bridge("http://127.0.0.1:9") as bridge:
    counting = True
    case = sys.argv[1]
    if case == "push":
        answer = bridge.push(1187, security_event())
    elif case == "notification":
        answer = bridge.notify({"type": "SessionUpdate", "id": 1})
    else:
        answer = bridge.request("GET", "/public-api/resources/security-events/v2.0")
    counting = False
print(json.dumps({"status": answer.status, "sessions": len(sessions), "clients": clients}))
"""


class _Refs(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return f"dummy-{key}"


class _Attrs(dict[tuple[str, str], str]):
    def __missing__(self, key: tuple[str, str]) -> str:
        return f"arn:aws:dummy:{REGION}:{ACCOUNT_ID}:{key[0]}"


@pytest.fixture(scope="module")
def template() -> TemplateModel:
    return TemplateModel(load_template())


def lambda_environment(template: TemplateModel, function: str, **parameters: str) -> dict[str, str]:
    """The function's template environment (dummy resource ids) and what Lambda sets, without our test settings."""
    stack = Stack(template, {**template.parameter_defaults(), **parameters}, refs=_Refs(), attrs=_Attrs())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "POWERTOOLS_", "AWS_", "MOTO_"))}
    return {
        **env,
        **stack.function_environment(function),
        "LAMBDA_TASK_ROOT": str(template.function_code_dir(function)),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def cold_import(template: TemplateModel, function: str, **parameters: str) -> dict[str, Any]:
    code_dir = template.function_code_dir(function)
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHILD, str(code_dir), str(ROOT / "shared")],
        cwd=code_dir,
        env=lambda_environment(template, function, **parameters),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.splitlines()[-1]))


def _loaded(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(f"{name}.") for m in modules)


# ---------------------------------------------------------------------- what a cold start imports
@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_imports_no_tracing_sdk_and_no_powertools_module_its_path_does_not_use(
    template: TemplateModel, function: str
) -> None:
    # When: a cold start with the template's defaults (Tracing=PassThrough)
    found = cold_import(template, function)

    # Then
    unused = [name for name in NEVER_ON_A_PATH if _loaded(found["modules"], name)]
    assert not unused, f"{function} imports {unused}"
    if function not in BATCH_FUNCTIONS:
        assert not _loaded(found["modules"], "asyncio"), f"{function} imports asyncio"
    assert found["sessions"] == 0, "no botocore session at import: clients are built on first use"
    assert found["settled"], "the handler's last line is cold_start.settle(): init frozen, collection resumed"
    assert (found["tracer"], found["wrapped"], found["patched"]) == ("NoneType", False, False)


def test_with_tracing_active_the_handler_is_traced_and_botocore_patched(template: TemplateModel) -> None:
    found = cold_import(template, "WebhooksFunction", Tracing="Active")

    assert (found["tracer"], found["wrapped"], found["patched"]) == ("Tracer", True, True)
    assert _loaded(found["modules"], "aws_xray_sdk")
    # In Lambda the X-Ray SDK samples locally: no sampling client, so no botocore session of its own.
    assert found["sessions"] == 0


# ---------------------------------------------------------------------- one botocore session per container
@pytest.mark.parametrize(
    ("case", "status", "services"),
    [
        ("push", 202, {"secretsmanager", "dynamodb"}),
        ("notification", 202, {"secretsmanager", "dynamodb"}),
        ("listing", 200, {"secretsmanager", "dynamodb"}),
    ],
)
def test_a_cold_start_and_its_first_event_build_one_botocore_session(
    case: str, status: int, services: set[str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "PYTHON"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "shared")])
    done = subprocess.run(
        [sys.executable, "-c", _EVENT_CHILD, case],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])

    assert found["status"] == status
    # Secrets Manager's provider gets the client of the container's session instead of building its own.
    assert found["sessions"] == 1
    assert set(found["clients"]) <= services
    assert all(count == 1 for count in found["clients"].values()), found["clients"]


# ---------------------------------------------------------------------- the template's switches
def test_tracing_is_a_parameter_off_by_default_that_every_function_follows(template: TemplateModel) -> None:
    parameter = template.raw["Parameters"]["Tracing"]
    assert (parameter["Default"], sorted(parameter["AllowedValues"])) == ("PassThrough", ["Active", "PassThrough"])
    assert "$5.00 per million traces recorded" in parameter["Description"]
    globals_function = template.raw["Globals"]["Function"]
    assert globals_function["Tracing"] == Tag("Ref", "Tracing")
    assert all("Tracing" not in f["Properties"] for f in template.functions().values())

    def disabled(tracing: str) -> str:
        stack = Stack(template, {**template.parameter_defaults(), "Tracing": tracing}, refs=_Refs(), attrs=_Attrs())
        return {stack.function_environment(f)["POWERTOOLS_TRACE_DISABLED"] for f in FUNCTIONS}.pop()

    assert (disabled("PassThrough"), disabled("Active")) == ("true", "false")


def test_snapstart_is_a_parameter_on_published_versions_behind_one_alias(template: TemplateModel) -> None:
    parameter = template.raw["Parameters"]["SnapStart"]
    assert (parameter["Default"], sorted(parameter["AllowedValues"])) == ("None", ["None", "PublishedVersions"])
    globals_function = template.raw["Globals"]["Function"]
    assert globals_function["SnapStart"] == {"ApplyOn": Tag("Ref", "SnapStart")}
    # SnapStart applies to published versions only: SAM publishes one per deploy and points every trigger at it.
    assert globals_function["AutoPublishAlias"] == "live"
    assert globals_function["Runtime"] == "python3.12"
    assert all("AutoPublishAlias" not in f["Properties"] for f in template.functions().values())


def test_the_layer_ships_no_botocore_the_runtime_already_has() -> None:
    from importlib import metadata

    from packaging.requirements import Requirement

    def pinned(path: Path) -> list[Requirement]:
        lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
        return [Requirement(line) for line in lines if line and not line.startswith("-")]

    def dependencies(requirement: Requirement) -> list[Requirement]:
        found = [Requirement(spec) for spec in metadata.requires(requirement.name) or []]
        extras = requirement.extras or {""}
        return [d for d in found if d.marker is None or any(d.marker.evaluate({"extra": e}) for e in extras)]

    runtime = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
    # What pip resolves for the layer (shared/requirements.txt with its dependencies) has no AWS SDK in it.
    closure: set[str] = set()
    pending = pinned(ROOT / "shared/requirements.txt")
    while pending:
        requirement = pending.pop()
        if requirement.name.lower() not in closure:
            closure.add(requirement.name.lower())
            pending += dependencies(requirement)
    assert not closure & {"boto3", "botocore", "s3transfer"}, closure
    # The tracing set is installed without dependencies: each one it needs is listed, or the runtime's.
    without_dependencies = pinned(ROOT / "shared/requirements-tracing.txt")
    listed = {r.name.lower() for r in without_dependencies}
    for requirement in without_dependencies:
        needed = {d.name.lower() for d in dependencies(requirement)}
        assert needed <= listed | runtime, (requirement.name, needed - listed - runtime)
    build = (ROOT / "shared/Makefile").read_text()
    assert "--no-deps -r requirements-tracing.txt" in build
