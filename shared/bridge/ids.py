"""Numbers written in paths, filters and headers: canonical ASCII decimals only.

`str.isdigit()` and `int()` take any Unicode digit (Arabic-Indic, fullwidth, superscript): an id that is not
written the way the bridge writes it back is not an id.
"""

from __future__ import annotations

import re

MAX_ID = 2**53 - 1  # JSON-safe: every id the bridge serves survives a JavaScript client
MAX_DIGITS = 19  # longer than any value the bridge reads; int() is never asked to parse a huge string

_CANONICAL_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def decimal(raw: str) -> int | None:
    """A non-negative integer in canonical ASCII decimal (no sign, space or leading zero), or None."""
    if len(raw) > MAX_DIGITS or not _CANONICAL_DECIMAL.fullmatch(raw):
        return None
    return int(raw)


def parse_id(raw: str) -> int | None:
    """A positive id below 2**53 in canonical ASCII decimal, or None."""
    value = decimal(raw)
    return value if value is not None and 0 < value <= MAX_ID else None
