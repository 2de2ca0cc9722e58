"""One fault at each call of each flow, then the retries a real sender, caller and Lambda make: nothing lost,
nothing delivered twice, the tenant called at most once per key, every start recorded with its real result."""

from __future__ import annotations

import pytest

from tests.faults.cases import Case, cases
from tests.faults.invariants import judge
from tests.faults.report import RowWriter, row_for
from tests.faults.world import Injection, Stage, World

CASES = cases()


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_a_single_fault_loses_nothing_and_doubles_nothing(fresh: Stage, fault_rows: RowWriter, case: Case) -> None:
    # Given the case's fault armed at one call of the flow's subject step
    world = World(fresh, Injection(case.site, case.kind, case.times))

    # When the flow runs with every retry its senders and Lambda make
    observed = case.flow.script(world)

    # Then every invariant holds (the row goes to the report first, whatever the verdict)
    verdict = judge(world, observed, case.times, case.duplicates)
    fault_rows.write(row_for(CASES.index(case), case, observed, verdict))
    assert not verdict.broken, "\n".join(verdict.broken)
