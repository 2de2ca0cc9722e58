"""Types shared by the models."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator

from bridge.ids import decimal

_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:?\d{2})$")


def _iso_instant(value: Any) -> Any:
    # Pydantic would also take epoch numbers and naive strings; the contract wants ISO-8601 with offset.
    if not isinstance(value, str) or not _ISO_INSTANT.match(value):
        raise ValueError("must be an ISO-8601 date-time with an offset")
    try:
        # In UTC from here on; year 1 at +01:00 has no UTC form, which is bad input, not a crash.
        return datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError("must be a date-time that exists in UTC") from exc


IsoInstant = Annotated[AwareDatetime, BeforeValidator(_iso_instant)]


def _decimal_digits(value: Any) -> Any:
    # Lax int parsing would take "1.0", "+1" and "١٢" from a query string: junk in a filter is a 422.
    if isinstance(value, str):
        number = decimal(value)
        if number is None:
            raise ValueError("must be a whole number in ASCII digits")
        return number
    return value


DigitsInt = Annotated[int, BeforeValidator(_decimal_digits)]


def iso_instant(moment: datetime) -> str:
    """UTC ISO-8601 with six fractional digits and Z: the form every time the bridge stores or serves takes."""
    # Always six digits, so stored times sort as strings; AMPECO writes microseconds and we keep them.
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
