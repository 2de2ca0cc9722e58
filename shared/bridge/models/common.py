"""Types shared by the models."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator

_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:?\d{2})$")


def _iso_instant(value: Any) -> Any:
    # Pydantic would also take epoch numbers and naive strings; the contract wants ISO-8601 with offset.
    if not isinstance(value, str) or not _ISO_INSTANT.match(value):
        raise ValueError("must be an ISO-8601 date-time with an offset")
    return datetime.fromisoformat(value)


IsoInstant = Annotated[AwareDatetime, BeforeValidator(_iso_instant)]


def iso_ms(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and Z: the form every time the bridge stores or serves takes."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ceil_ms(moment: datetime) -> datetime:
    """Rounded up to the millisecond: the first stored time not before `moment`."""
    if moment.microsecond % 1000 == 0:
        return moment
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000) + timedelta(milliseconds=1)
