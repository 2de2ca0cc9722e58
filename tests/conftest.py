"""Fixtures: a bridge on moto built from template.yaml for every integration test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from local.aws import in_memory_aws, set_fake_environment

# Before any test module imports boto3-using code: clients must see the fake region and account.
set_fake_environment()

if TYPE_CHECKING:
    from tests.harness import Bridge


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    from local.lambda_runtime import apply_environment
    from local.stack import Stack
    from tests.harness import SECRETS, Bridge, install_call_counter, make_pump, reset_counters

    install_call_counter()
    with in_memory_aws():
        stack = Stack.create(secrets=SECRETS)
        apply_environment(stack)
        from bridge import secrets

        secrets.clear_cache()
        yield Bridge(stack, make_pump(stack))
        reset_counters()
