"""Fuzz settings profiles, and the per-endpoint tally of generated requests printed at the end of a run.

`BRIDGE_FUZZ_PROFILE` picks the profile: `bridge-ci` (the default, inside `make test`: a fixed seed and a
modest share of the suite's time) or `bridge-fuzz` (`make fuzz`: many more cases, random each run).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.fuzz.budget import PROFILE_VARIABLE
from tests.fuzz.tally import TALLY, merge, render

REPORT_VARIABLE = "BRIDGE_FUZZ_REPORT"  # a file to write the tally to, as JSON

settings.register_profile(
    "bridge-ci",
    max_examples=130,
    derandomize=True,  # a fixed seed per test: `make test` does not wander to new inputs from run to run
    database=None,  # nothing written into the working tree
    deadline=None,  # moto is slow at times
    print_blob=True,  # a failure prints what reproduces it
    # One moto stack serves all of a test's examples; generated bodies are large on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("bridge-fuzz", settings.get_profile("bridge-ci"), max_examples=1500, derandomize=False)
settings.get_profile(os.environ.get(PROFILE_VARIABLE, "bridge-ci"))  # an unknown name fails here, loudly


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput: dict[str, Any] | None = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fuzz_tally"] = TALLY.to_json()  # an xdist worker hands its share to the controller


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    merge(TALLY, node.workeroutput.get("fuzz_tally", "[]"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY.counts:
        return
    terminalreporter.section("fuzz: generated requests per endpoint")
    for line in render(TALLY):
        terminalreporter.write_line(line)
    report = os.environ.get(REPORT_VARIABLE)
    if report:
        with open(report, "w", encoding="utf-8") as out:
            json.dump(TALLY.summary(), out, indent=2, sort_keys=True)
