"""The fault suite's stage and report.

One bridge per worker, shared by its cases (each case has its own charge point, idTag and keys), so a case
costs its calls, not a stack. Each worker writes its report rows to a directory the controlling process made;
that process prints the table at the end and writes it as Markdown to $FAULT_REPORT when set.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.tenant_sim import TenantSimulator
from tests.faults.report import INTRODUCTION, RowWriter, markdown, read_rows
from tests.faults.world import Stage

ROWS_DIR = "FAULT_SUITE_ROWS"  # inherited by xdist workers, which start after pytest_configure
_owns_rows = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    # Only a process that loaded this file before starting workers can collect their rows.
    if not hasattr(config, "workerinput") and ROWS_DIR not in os.environ:
        os.environ[ROWS_DIR] = tempfile.mkdtemp(prefix="fault-rows-")
        config.stash[_owns_rows] = True


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if not config.stash.get(_owns_rows, False):
        return
    directory = Path(os.environ.pop(ROWS_DIR))
    rows = read_rows(directory)
    shutil.rmtree(directory, ignore_errors=True)
    if not rows:
        return
    table = markdown(rows)
    terminalreporter.write_sep("=", "fault report")
    terminalreporter.write_line(table)
    destination = os.environ.get("FAULT_REPORT")
    if destination:
        Path(destination).write_text(f"# Fault report\n\n{INTRODUCTION}\n{table}\n", encoding="utf-8")
        terminalreporter.write_line(f"written to {destination}")


@pytest.fixture(scope="session")
def fault_rows() -> RowWriter:
    """Where this process writes its report rows (nowhere when no process collects them)."""
    return RowWriter(os.environ.get(ROWS_DIR))


@pytest.fixture(scope="package")
def stage(tenant: TenantSimulator) -> Iterator[Stage]:
    """A bridge on moto built from template.yaml, as the `bridge` fixture builds it, for the whole package."""
    from tests.harness import open_bridge

    with open_bridge(tenant.url) as bridge:
        yield Stage.build(bridge, tenant)


@pytest.fixture
def fresh(stage: Stage) -> Stage:
    """The stage as a case finds it: nothing published yet, secrets not cached (a cold container's calls)."""
    from bridge import secrets

    stage.bridge.deliveries.clear()
    secrets.clear_cache()
    return stage
