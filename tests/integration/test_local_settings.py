"""The local run's settings: a bad one stops `python -m local` before it serves, in one line; and its helpers."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from pydantic import BaseModel, ValidationError

from bridge.settings import ReconcilerSettings, RelaySettings, StartSettings, WebhookSettings
from local.__main__ import (
    FUNCTION_NUMBERS,
    LocalSettings,
    SettingError,
    banner,
    check_function_settings,
    preload_handlers,
)
from local.aws import REGION, in_memory_aws
from local.deliveries import Deliveries
from local.server import BridgeServer, PortInUse
from local.stack import Stack

REPO = Path(__file__).resolve().parents[2]
# Every variable the local run reads: unset in the child unless a test sets it, whatever the shell exports.
LOCAL_VARIABLES = (
    "PORT",
    "BRIDGE_API_KEY",
    "AMPECO_API_TOKEN",
    "AMPECO_TENANT",
    "WEBHOOK_SECRET",
    "CURSOR_SECRET",
    "AMPECO_BASE_URL",
    "AMPECO_TIMEOUT_SECONDS",
    "WEBHOOK_TOLERANCE_SECONDS",
    "RELAY_GIVE_UP_SECONDS",
    "RECONCILE_INTERVAL_SECONDS",
    "SIM_DROP_NOTIFICATIONS",
    "LOCAL_LOG_LEVEL",
)
# Fixed, so every xdist worker collects the same test ids.
SHORT_MASTER = "whsec_" + base64.b64encode(bytes(range(16))).decode()  # 16 bytes: under the 24 required
GOOD_MASTER = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER_MASTER = "whsec_" + base64.b64encode(bytes(range(32, 64))).decode()


def run_local(env: dict[str, str], *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`python -m local` (or `python -c ...`) in a child with only the given local-run variables set."""
    child_env = {name: value for name, value in os.environ.items() if name not in LOCAL_VARIABLES}
    child_env["PYTHONPATH"] = os.pathsep.join([str(REPO / "shared"), str(REPO), os.environ.get("PYTHONPATH", "")])
    child_env.update(env)
    command = [sys.executable, *(argv or ("-m", "local"))]
    return subprocess.run(
        command, cwd=REPO, env=child_env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_refused_in_one_line(done: subprocess.CompletedProcess[str], start: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""  # no banner: it never served
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(start), lines[0]
    return lines[0]


# -- every bad setting stops the run before it builds anything ---------------------------------------------

# One per variable runs the whole `python -m local` (about a second each: the interpreter and its imports).
BAD_SETTINGS = [
    ("PORT", "abc"),
    ("AMPECO_TIMEOUT_SECONDS", "100"),
    ("WEBHOOK_TOLERANCE_SECONDS", "0"),
    ("RELAY_GIVE_UP_SECONDS", "-1"),
    ("AMPECO_BASE_URL", "tenant.example"),
    ("WEBHOOK_SECRET", "whsec_!!!"),
    ("WEBHOOK_SECRET", "abc"),
    ("LOCAL_LOG_LEVEL", "LOUD"),
    ("SIM_DROP_NOTIFICATIONS", "2"),
    ("RECONCILE_INTERVAL_SECONDS", "0"),
]
# The rest are checked in-process, by what `python -m local` runs first.
MORE_BAD_SETTINGS = [
    ("PORT", "70000"),
    ("PORT", "-1"),
    ("PORT", "80.5"),
    ("AMPECO_TIMEOUT_SECONDS", "25.5"),
    ("AMPECO_TIMEOUT_SECONDS", "0"),
    ("AMPECO_TIMEOUT_SECONDS", "soon"),
    ("AMPECO_TIMEOUT_SECONDS", "nan"),
    ("WEBHOOK_TOLERANCE_SECONDS", "3601"),
    ("WEBHOOK_TOLERANCE_SECONDS", "1.5"),
    ("RELAY_GIVE_UP_SECONDS", "3601"),
    ("RELAY_GIVE_UP_SECONDS", "later"),
    ("AMPECO_BASE_URL", "ftp://tenant.example"),
    ("AMPECO_BASE_URL", "https://"),
    ("AMPECO_BASE_URL", "https://tenant.example:99999"),
    ("AMPECO_BASE_URL", "https://tenant example"),
    ("WEBHOOK_SECRET", SHORT_MASTER),
    ("WEBHOOK_SECRET", f"{GOOD_MASTER} abc"),
    ("LOCAL_LOG_LEVEL", "TRACE"),
    ("SIM_DROP_NOTIFICATIONS", "half"),
    ("RECONCILE_INTERVAL_SECONDS", "3601"),
    ("AMPECO_TIMEOUT_SECONDS", "0x10"),
]


def check(env: dict[str, str]) -> None:
    """What `python -m local` checks before it builds anything."""
    LocalSettings.from_env(env)
    check_function_settings(env)


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_a_bad_setting_stops_the_run_with_one_line_and_status_2(name: str, value: str) -> None:
    began = time.monotonic()
    done = run_local({"PORT": "0", name: value})

    assert_refused_in_one_line(done, f"{name}={value!r} is not allowed: ")
    assert time.monotonic() - began < 15  # before the stack is built, so no more than the interpreter's start


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS + MORE_BAD_SETTINGS)
def test_a_bad_setting_is_refused_by_the_checks_before_the_stack(name: str, value: str) -> None:
    with pytest.raises(SettingError) as refused:
        check({"PORT": "0", name: value})

    assert str(refused.value).startswith(f"{name}={value!r} is not allowed: ")
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("PORT", "abc", "an integer from 1 to 65535"),
        ("AMPECO_TIMEOUT_SECONDS", "100", "a number of seconds greater than 0 and at most 25"),
        ("WEBHOOK_TOLERANCE_SECONDS", "0", "an integer number of seconds from 1 to 3600"),
        ("RELAY_GIVE_UP_SECONDS", "-1", "an integer number of seconds from 0 to 3600"),
        ("AMPECO_BASE_URL", "tenant.example", "an absolute http:// or https:// URL"),
        ("WEBHOOK_SECRET", "abc", "one or more whsec_ master secrets, space-separated, each the base64 of at least 24"),
        ("LOCAL_LOG_LEVEL", "LOUD", "one of DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_the_refusal_says_what_is_allowed(name: str, value: str, allowed: str) -> None:
    with pytest.raises(SettingError) as refused:
        check({name: value})

    assert str(refused.value).startswith(f"{name}={value!r} is not allowed: {allowed}")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "replace-me",
        "changeme",
        "whsec_replace-me",
        GOOD_MASTER,
        f"{GOOD_MASTER} {OTHER_MASTER}",
    ],
)
def test_a_placeholder_or_real_webhook_secret_is_not_refused(value: str) -> None:
    check_function_settings({"WEBHOOK_SECRET": value})  # a placeholder is named in the banner instead


def test_a_placeholder_webhook_secret_is_a_banner_warning_not_a_refusal() -> None:
    settings = LocalSettings.from_env({"WEBHOOK_SECRET": "replace-me"})
    check_function_settings({"WEBHOOK_SECRET": "replace-me"})

    [warning] = settings.placeholders()
    assert "WEBHOOK_SECRET" in warning


@pytest.mark.parametrize(
    ("env", "port", "level"),
    [
        ({}, 3000, "INFO"),
        ({"PORT": "", "LOCAL_LOG_LEVEL": ""}, 3000, "INFO"),
        ({"PORT": "8080", "LOCAL_LOG_LEVEL": "debug"}, 8080, "DEBUG"),
        ({"PORT": "0"}, 0, "INFO"),
    ],
)
def test_port_and_log_level_defaults_and_values(env: dict[str, str], port: int, level: str) -> None:
    settings = LocalSettings.from_env(env)
    assert (settings.port, settings.log_level) == (port, level)


# -- the local checks agree with the functions' settings models -----------------------------------------------

MODEL_OF = {
    "AMPECO_TIMEOUT_SECONDS": StartSettings,
    "WEBHOOK_TOLERANCE_SECONDS": WebhookSettings,
    "RELAY_GIVE_UP_SECONDS": RelaySettings,
}
PROBES = ["-1", "0", "0.001", "1", "1.5", "10", "24.99", "25", "25.01", "300", "3600", "3601", "soon", "1e1"]


def model_accepts(model: type[BaseModel], name: str, value: str) -> bool:
    required = {
        f.alias: "https://x" if "URL" in str(f.alias) else "x" for f in model.model_fields.values() if f.is_required()
    }
    try:
        model.model_validate({**required, name: value})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("setting", FUNCTION_NUMBERS, ids=lambda setting: setting.name)
def test_the_local_ranges_are_the_settings_models_ranges(setting: Any) -> None:
    assert set(MODEL_OF) == {each.name for each in FUNCTION_NUMBERS}
    for value in PROBES:
        try:
            setting.read({setting.name: value})
            local = True
        except SettingError:
            local = False
        assert local == model_accepts(MODEL_OF[setting.name], setting.name, value), (setting.name, value)


def test_the_local_base_url_check_is_no_looser_than_the_models() -> None:
    for value in ["https://tenant.example", "http://127.0.0.1:8080/x", "tenant.example", "ftp://x", "https://"]:
        try:
            check_function_settings({"AMPECO_BASE_URL": value})
        except SettingError:
            continue
        assert model_accepts(ReconcilerSettings, "AMPECO_BASE_URL", value), value


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """One in-memory stack for the module: these tests need its resources, not its handlers."""
    with in_memory_aws():
        yield Stack.create()


@pytest.fixture(scope="module")
def deliveries(stack: Stack) -> Iterator[Deliveries]:
    recorder = Deliveries.install(stack)
    yield recorder
    recorder.uninstall()


# -- what a settings model still refuses at a handler's import stops the run too ----------------------------

REFUSING_IMPORT = """
import sys
import local.__main__ as run
from bridge.settings import FinaliserSettings

def load_function(template, function):  # a handler whose settings model refuses what the template gave it
    FinaliserSettings.from_env({"ATTEMPTS_TABLE": "a", "STUCK_AFTER_SECONDS": "0"})

run.load_function = load_function
sys.exit(run.main())
"""


def test_a_setting_a_handler_refuses_at_import_stops_the_run_in_one_line() -> None:
    done = run_local({"PORT": "0", "LOCAL_LOG_LEVEL": "WARNING"}, "-c", REFUSING_IMPORT)

    line = assert_refused_in_one_line(done, "STUCK_AFTER_SECONDS='0' is not allowed: ")
    assert line == "STUCK_AFTER_SECONDS='0' is not allowed: an integer of at least 1"
    assert "Traceback" not in done.stderr


def test_preload_turns_a_settings_refusal_into_a_setting_error(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    def refusing(_template: object, _function: str) -> None:
        StartSettings.from_env({"AMPECO_TIMEOUT_SECONDS": "100"})

    monkeypatch.setattr("local.__main__.load_function", refusing)
    with pytest.raises(SettingError) as refused:
        preload_handlers(stack)
    # The first error pydantic lists: the missing tables come before the deadline.
    assert str(refused.value) == "ATTEMPTS_TABLE is not set: a non-empty value is required"


class NotASetting(BaseModel):
    count: int


def no_module(function: str) -> None:
    raise ImportError(f"no module for {function}")


def a_models_refusal(_function: str) -> None:
    NotASetting.model_validate({"count": "many"})  # pydantic, but no settings model's


@pytest.mark.parametrize("failure", [no_module, a_models_refusal])
def test_preload_still_only_logs_a_handler_that_is_broken_otherwise(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, failure: Any
) -> None:
    def broken(_template: object, function: str) -> None:
        failure(function)

    monkeypatch.setattr("local.__main__.load_function", broken)
    preload_handlers(stack)  # its routes answer 502; the run serves the rest
    assert "cannot import" in caplog.text


# -- a port in use ---------------------------------------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_a_port_in_use_stops_the_run_in_one_line_naming_it(taken_port: int) -> None:
    done = run_local({"PORT": str(taken_port)})

    line = assert_refused_in_one_line(done, f"127.0.0.1:{taken_port} is in use")
    assert "set PORT=..." in line
    assert "OSError" not in line
    assert "Traceback" not in done.stderr


def test_a_server_on_a_port_taken_meanwhile_raises_port_in_use(stack: Stack, taken_port: int) -> None:
    with pytest.raises(PortInUse, match=f"127.0.0.1:{taken_port} is in use"):
        BridgeServer(stack, stack.template, taken_port)


# -- GET /_local/deliveries?topic= -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(stack: Stack, deliveries: Deliveries) -> Iterator[BridgeServer]:
    local = BridgeServer(stack, stack.template, port=0, deliveries=deliveries)
    local.start()
    yield local
    local.stop()


def get(server: BridgeServer, path: str) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def publish_one_to_each_topic(stack: Stack) -> None:
    sns = boto3.client("sns", region_name=REGION)
    sns.publish(TopicArn=stack.refs["SecurityEventsTopic"], Message='{"n": "security"}')
    sns.publish(TopicArn=stack.refs["StartResultsTopic"], Message='{"n": "start"}')


@pytest.mark.parametrize(
    ("query", "bodies"),
    [
        ("", [{"n": "security"}, {"n": "start"}]),
        ("?topic=start-results", [{"n": "start"}]),
        ("?topic=security-events", [{"n": "security"}]),
        ("?topic=security-events&topic=start-results", [{"n": "security"}, {"n": "start"}]),
    ],
)
def test_deliveries_filter_by_topic(
    stack: Stack, deliveries: Deliveries, server: BridgeServer, query: str, bodies: list[Any]
) -> None:
    deliveries.clear()
    publish_one_to_each_topic(stack)

    status, listed = get(server, "/_local/deliveries" + query)

    assert status == 200
    assert [item["body"] for item in listed] == bodies


@pytest.mark.parametrize(
    ("query", "field"), [("?topic=bogus", "topic"), ("?topic=", "topic"), ("?topics=start-results", "topics")]
)
def test_an_unknown_topic_or_parameter_is_422_naming_the_topics(server: BridgeServer, query: str, field: str) -> None:
    status, answer = get(server, "/_local/deliveries" + query)

    assert status == 422
    assert set(answer["errors"]) == {field}
    assert "security-events, start-results" in answer["errors"][field][0]
    assert answer["message"] == answer["errors"][field][0]


def test_the_banner_shows_the_topic_filter(server: BridgeServer) -> None:
    text = banner(LocalSettings.from_env({}), server, None)
    assert f"{server.url}/_local/deliveries   (?topic=start-results or ?topic=security-events" in text
