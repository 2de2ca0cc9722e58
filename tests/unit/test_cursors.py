"""Cursors: signed, bound to their filters, valid under the previous secret during rotation."""

from __future__ import annotations

import pytest

from bridge import cursors
from bridge.errors import InvalidInput


def test_round_trip_and_rotation() -> None:
    token = cursors.encode("old", "scope", {"below": 42})
    assert cursors.decode(["old"], "scope", token) == {"below": 42}
    assert cursors.decode(["new", "old"], "scope", token) == {"below": 42}


@pytest.mark.parametrize("token", ["", ".", "a.b", "x" * 50, "eyJ9.AAAA"])
def test_junk_is_invalid_input(token: str) -> None:
    with pytest.raises(InvalidInput):
        cursors.decode(["s"], "scope", token)


def test_other_scope_or_secret_is_invalid() -> None:
    token = cursors.encode("s", "scope-a", {"below": 1})
    with pytest.raises(InvalidInput):
        cursors.decode(["s"], "scope-b", token)
    with pytest.raises(InvalidInput):
        cursors.decode(["other"], "scope-a", token)


def test_scope_ignores_absent_filters_but_not_values() -> None:
    assert cursors.scope_of({"a": "1", "b": None}) == cursors.scope_of({"a": "1"})
    assert cursors.scope_of({"a": "1"}) != cursors.scope_of({"a": "2"})
