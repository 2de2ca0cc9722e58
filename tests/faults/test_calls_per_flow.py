"""Each flow makes exactly the calls the case table aims faults at: a changed flow fails here, loudly."""

from __future__ import annotations

import re

import pytest

from tests.faults.cases import FLOWS, Flow
from tests.faults.invariants import judge
from tests.faults.world import Stage, World


@pytest.mark.parametrize("flow", FLOWS, ids=lambda flow: re.sub(r"\W+", "_", flow.name))
def test_the_flow_makes_the_calls_the_case_table_names_and_keeps_every_invariant(fresh: Stage, flow: Flow) -> None:
    # Given no fault but the flow's preconditions
    world = World(fresh)

    # When it runs
    observed = flow.script(world)

    # Then its subject step made these calls, in this order, and every invariant holds
    assert world.recorder.sites == list(flow.calls)
    broken = judge(world, observed).broken
    assert not broken, "\n".join(broken)
