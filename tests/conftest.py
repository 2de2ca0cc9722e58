"""Fixtures: a bridge on moto built from template.yaml for every integration test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from local.aws import in_memory_aws, set_fake_environment

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
    from local.lambda_runtime import apply_environment
    from local.stack import Stack
    from tests.harness import SECRETS, Bridge, make_pump

    with in_memory_aws():
        stack = Stack.create(parameters={"AmpecoBaseUrl": tenant.url}, secrets=SECRETS)
        apply_environment(stack)
        from bridge import secrets

        secrets.clear_cache()
        from local.deliveries import Deliveries

        bridge = Bridge(stack, make_pump(stack), Deliveries.install(stack))
        try:
            yield bridge
        finally:
            bridge.close()
