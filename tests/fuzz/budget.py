"""The active fuzz profile (registered in conftest.py), scaled per test by how cheap its examples are."""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE_VARIABLE = "BRIDGE_FUZZ_PROFILE"


def profile() -> settings:
    """The profile `BRIDGE_FUZZ_PROFILE` names (`bridge-ci` by default)."""
    return settings.get_profile(os.environ.get(PROFILE_VARIABLE, "bridge-ci"))


def scaled(factor: float) -> settings:
    """The active profile with `factor` times its examples (pure properties afford more than moto requests)."""
    active = profile()
    return settings(active, max_examples=max(1, int(active.max_examples * factor)))
