"""Cursors, path ids and timestamps: whatever a client writes, the answer is a value or a 422, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import assume, given
from pydantic import BaseModel, ValidationError

from bridge import cursors
from bridge.errors import InvalidInput
from bridge.ids import MAX_ID, decimal, parse_id
from bridge.models.common import IsoInstant
from tests.fuzz.budget import scaled

secrets = st.text(min_size=1, max_size=40)
scopes = st.text(max_size=20)
positions = st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=20), max_size=4)


# ---------------------------------------------------------------------- cursors
@given(secrets, scopes, positions, st.lists(secrets, max_size=2))
@scaled(2)
def test_a_cursor_decodes_to_its_position_under_any_active_secret(
    secret: str, scope: str, position: dict[str, Any], others: list[str]
) -> None:
    cursor = cursors.encode(secret, scope, position)

    assert cursors.decode([*others, secret], scope, cursor) == position


@st.composite
def tampered(draw: st.DrawFn, cursor: str) -> str:
    how = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "append"]))
    at = draw(st.integers(0, len(cursor) - 1))
    char = draw(st.characters())
    if how == "replace":
        return cursor[:at] + char + cursor[at + 1 :]
    if how == "insert":
        return cursor[:at] + char + cursor[at:]
    if how == "delete":
        return cursor[:at] + cursor[at + 1 :]
    if how == "truncate":
        return cursor[:at]
    return cursor + draw(st.text(min_size=1, max_size=8))


@given(secrets, scopes, positions, st.data())
@scaled(2)
def test_a_tampered_cursor_is_invalid_input(secret: str, scope: str, position: dict[str, Any], data: Any) -> None:
    cursor = cursors.encode(secret, scope, position)
    changed = data.draw(tampered(cursor), label="tampered")
    assume(changed != cursor)

    try:
        decoded = cursors.decode([secret], scope, changed)
    except InvalidInput:
        return
    # Only a signature written differently for the same bytes (base64 padding or skipped characters) passes.
    assert changed.partition(".")[0] == cursor.partition(".")[0]
    assert decoded == position


@given(secrets, scopes, st.text(min_size=1, max_size=20), positions)
@scaled(2)
def test_a_cursor_from_other_filters_is_invalid_input(secret: str, value: str, suffix: str, position: Any) -> None:
    cursor = cursors.encode(secret, cursors.scope_of({"filter[type]": value}), position)

    with pytest.raises(InvalidInput):
        cursors.decode([secret], cursors.scope_of({"filter[type]": value + suffix}), cursor)


@given(st.text(max_size=200), st.lists(secrets, min_size=1, max_size=2), scopes)
@scaled(2)
def test_garbage_cursors_are_invalid_input(cursor: str, active: list[str], scope: str) -> None:
    with pytest.raises(InvalidInput):
        cursors.decode(active, scope, cursor)


# ---------------------------------------------------------------------- path ids
def canonical_positive_id(raw: str) -> int | None:
    """The oracle: exactly what `str(n)` writes for 0 < n < 2**53."""
    if raw.isascii() and raw.isdecimal() and raw == str(int(raw)) and 0 < int(raw) <= MAX_ID:
        return int(raw)
    return None


unicode_digits = st.text(st.characters(categories=["Nd"]), min_size=1, max_size=20)
ascii_numbers = st.from_regex(r"\A[-+ 0]?[0-9]{1,22}\s?\Z")
id_like = (
    st.text(max_size=25)
    | unicode_digits
    | ascii_numbers
    | st.integers(-(2**64), 2**64).map(str)
    | st.sampled_from(["0", "9007199254740991", "9007199254740992", "012", "\uff19", "\u0661\u0662", "\u00b2"])
)


@given(id_like)
@scaled(3)
def test_path_ids_are_exactly_the_canonical_positive_ascii_decimals_below_2_53(raw: str) -> None:
    assert parse_id(raw) == canonical_positive_id(raw)
    if parse_id(raw) is not None:
        assert decimal(raw) == parse_id(raw)


@given(st.integers(1, MAX_ID))
@scaled(1)
def test_every_id_the_bridge_writes_reads_back(value: int) -> None:
    assert parse_id(str(value)) == value


# ---------------------------------------------------------------------- timestamps
class Stamped(BaseModel):
    at: IsoInstant


offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: timezone(timedelta(minutes=minutes)))
written_instants = st.builds(
    lambda moment, spec: moment.isoformat(timespec=spec),
    st.datetimes(timezones=offsets),
    st.sampled_from(["minutes", "seconds", "milliseconds", "microseconds"]),
)
near_instants = st.from_regex(
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|z|[+-][0-9]{2}:?[0-9]{2})\Z"
)
odd_instants = st.from_regex(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})?\Z")
edge_instants = st.sampled_from(
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59.999999Z",
        "9999-12-31T23:59:59.999999-01:00",
        "2026-02-29T00:00:00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T10:00:60Z",
    ]
)


@given(st.text(max_size=40) | written_instants | near_instants | odd_instants | edge_instants)
@scaled(3)
def test_a_timestamp_is_an_aware_utc_instant_or_a_validation_error(raw: str) -> None:
    try:
        parsed = Stamped.model_validate({"at": raw}).at
    except ValidationError:
        return
    assert parsed.utcoffset() == timedelta(0)


@given(st.datetimes(timezones=offsets), st.sampled_from(["seconds", "milliseconds", "microseconds"]))
@scaled(2)
def test_a_written_instant_reads_back_as_the_same_instant(moment: datetime, spec: str) -> None:
    try:
        parsed = Stamped.model_validate({"at": moment.isoformat(timespec=spec)}).at
    except ValidationError:
        # Only an instant without a UTC form (year 1 east of Greenwich, 9999 west of it) is refused.
        with pytest.raises(OverflowError):
            moment.astimezone(UTC)
        return
    assert parsed == moment.replace(microsecond=_kept(moment.microsecond, spec))


def _kept(microsecond: int, spec: str) -> int:
    return {"seconds": 0, "milliseconds": microsecond // 1000 * 1000}.get(spec, microsecond)


@given(st.none() | st.booleans() | st.integers() | st.floats() | st.lists(st.text(max_size=3), max_size=2))
@scaled(1)
def test_a_timestamp_that_is_not_a_string_is_a_validation_error(raw: Any) -> None:
    with pytest.raises(ValidationError):
        Stamped.model_validate({"at": raw})
