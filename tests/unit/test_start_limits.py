"""Charging limits: multiples of 0.1, whatever their size; never an error the caller did not cause."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bridge.models.starts import StartRequest


def request(limit: Any, min_rate: Any = None) -> dict[str, Any]:
    schedule: dict[str, Any] = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}
    if min_rate is not None:
        schedule["minChargingRate"] = min_rate
    profile = {
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": schedule,
    }
    return {"chargingProfile": profile}


@pytest.mark.parametrize("limit", [16.1, 32, 1e27, -1e30, 1.5e300, 10**40])
def test_any_finite_multiple_of_a_tenth_is_a_limit(limit: float) -> None:
    StartRequest.model_validate(request(limit))


@pytest.mark.parametrize("limit", [16.15, 0.30000000000000004, 1e-30, 1.23456789e-5])
def test_anything_finer_than_a_tenth_is_refused_as_invalid_input(limit: float) -> None:
    with pytest.raises(ValidationError):
        StartRequest.model_validate(request(limit))


def test_a_huge_minimum_charging_rate_is_validated_not_a_crash() -> None:
    StartRequest.model_validate(request(32, min_rate=1e29))
