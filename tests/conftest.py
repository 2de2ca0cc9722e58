"""Fixtures: a bridge on moto built from template.yaml for every integration test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from local.aws import set_fake_environment

# Before any test module imports boto3-using code: clients must see the fake region and account.
set_fake_environment()

AMPECO_TOKEN = "test-ampeco-token"  # tests.harness.AMPECO_TOKEN, without importing boto3 this early

if TYPE_CHECKING:
    from local.tenant_sim import TenantSimulator
    from tests.harness import Bridge


@pytest.fixture(scope="session")
def tenant() -> Iterator[TenantSimulator]:
    """One AMPECO tenant simulator for the session: handlers read its URL once, at import."""
    from local.tenant_sim import TenantSimulator

    simulator = TenantSimulator(token=AMPECO_TOKEN, webhook_url=None, timeout_hint_seconds=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def bridge(tenant: TenantSimulator) -> Iterator[Bridge]:
    from tests.harness import open_bridge

    with open_bridge(tenant.url) as bridge:
        yield bridge
