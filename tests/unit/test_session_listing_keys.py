"""The listing table's keys: one per combination of two or more filters, the same in the code and the template."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from bridge.models.sessions import Session
from bridge.storage.sessions import (
    COMBINATIONS,
    EQUALITY_FILTERS,
    LISTING_PROJECTION,
    combination_key,
    listing_item,
    session_from_item,
    session_item,
)
from local.template import TemplateModel, load_template


def session(id_tag: str | None = "FLEET-00042", status: str = "active") -> Session:
    started = datetime(2025, 11, 24, 18, 2, 11, tzinfo=UTC)
    document = {"id": "987654", "chargePointId": 1187, "evseId": 2301, "status": status, "idTag": id_tag}
    return Session("987654", document, 1187, 2301, status, started, id_tag, started, version=3)


def test_every_combination_of_two_or_more_filters_has_its_own_index() -> None:
    expected = {c for n in range(2, 5) for c in itertools.combinations(EQUALITY_FILTERS, n)}
    assert set(COMBINATIONS) == expected
    assert len({index for index, _ in COMBINATIONS.values()}) == len({a for _, a in COMBINATIONS.values()}) == 11


def test_the_template_declares_the_listing_indexes_the_code_queries() -> None:
    props = TemplateModel(load_template()).resources["SessionListingTable"]["Properties"]
    declared = {
        gsi["IndexName"]: (
            [(k["AttributeName"], k["KeyType"]) for k in gsi["KeySchema"]],
            gsi["Projection"]["ProjectionType"],
            set(gsi["Projection"]["NonKeyAttributes"]),
        )
        for gsi in props["GlobalSecondaryIndexes"]
    }
    assert declared == {
        index: ([(attribute, "HASH"), ("startedKey", "RANGE")], "INCLUDE", set(LISTING_PROJECTION))
        for index, attribute in COMBINATIONS.values()
    }
    defined = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}
    assert defined == {"sessionId": "S", "startedKey": "S", **{a: "S" for _, a in COMBINATIONS.values()}}


def test_a_copy_has_every_combinations_key_and_reads_back_as_the_session() -> None:
    copy = listing_item(session())

    assert copy["kcs"] == {"S": "1187|active"}
    assert copy["kcest"] == {"S": "1187|2301|active|FLEET-00042"}
    assert all(attribute in copy for _, attribute in COMBINATIONS.values())
    assert "listKey" not in copy  # the all-sessions index is the sessions table's
    # What an index entry holds (keys and the projection) is enough to serve the session.
    entry = {k: v for k, v in copy.items() if k in {"sessionId", "startedKey", "kcs", *LISTING_PROJECTION}}
    assert session_from_item(entry) == session_from_item(session_item(session()))


@pytest.mark.parametrize("id_tag", [None, "T" * 256], ids=["no idTag", "idTag too long to index"])
def test_a_session_without_an_indexed_id_tag_is_in_no_combination_with_id_tag(id_tag: str | None) -> None:
    copy = listing_item(session(id_tag=id_tag))

    with_tag = {a for names, (_, a) in COMBINATIONS.items() if "idTag" in names}
    assert with_tag.isdisjoint(copy)
    assert {a for _, a in COMBINATIONS.values()} - with_tag <= set(copy)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"chargePointId": 1, "idTag": "2|x"}, {"chargePointId": 12, "idTag": "x"}),
        ({"status": "active", "idTag": "a|b"}, {"status": "active", "idTag": "a\\|b"}),
        ({"evseId": 7, "idTag": "\\"}, {"evseId": 7, "idTag": "\\\\"}),
    ],
)
def test_different_values_never_share_a_key(first: dict[str, Any], second: dict[str, Any]) -> None:
    names = tuple(n for n in EQUALITY_FILTERS if n in first)
    assert combination_key(names, first) != combination_key(names, second)


def test_a_filters_number_is_written_as_the_stored_one() -> None:
    names = ("chargePointId", "evseId")
    assert combination_key(names, {"chargePointId": "0100", "evseId": 7}) == combination_key(
        names, {"chargePointId": 100, "evseId": "7"}
    )
