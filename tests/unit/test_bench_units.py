"""The bench's DynamoDB billing: item sizes, write units with indexes and transactions, read units."""

from __future__ import annotations

import pytest

from local.bench_units import Index, TableShape, item_size, kilobytes, read_units, table_shapes, value_size, write_cost

SHAPE = TableShape(
    ("pk", "sk"),
    (
        Index("byType", ("typeKey", "sk"), "INCLUDE", ("eventType",)),
        Index("byStatus", ("status", "sk"), "ALL"),
        Index("byQuarantine", ("quarantined", "sk"), "KEYS_ONLY"),
    ),
)


def item(**attributes: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": "SE"}, "sk": {"N": "42"}, **{k: {"S": v} for k, v in attributes.items()}}


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({"S": "héllo"}, 6),
        ({"N": "12345"}, 4),
        ({"N": "-0.00120"}, 2),
        ({"BOOL": True}, 1),
        ({"NULL": True}, 1),
        ({"B": b"abc"}, 3),
        ({"L": [{"S": "ab"}, {"N": "1"}]}, 3 + 3 + 3),
        ({"M": {"k": {"S": "v"}}}, 3 + 1 + 2),
        ({"SS": ["a", "bc"]}, 3),
    ],
)
def test_values_are_sized_as_dynamodb_bills_them(value: dict[str, object], size: int) -> None:
    assert value_size(value) == size


def test_an_item_is_its_names_and_values() -> None:
    assert item_size({"pk": {"S": "SE"}, "n": {"N": "7"}}) == 2 + 2 + 1 + 2


def test_units_round_up_per_kilobyte_and_never_go_below_one() -> None:
    assert (kilobytes(0), kilobytes(1), kilobytes(1024), kilobytes(1025)) == (1, 1, 1, 2)


def test_a_new_item_pays_its_table_and_every_index_it_enters() -> None:
    cost = write_cost(SHAPE, None, item(typeKey="T#x", status="open"), transactional=False)
    assert (cost.base, cost.indexes) == (1, {"byType": 1, "byStatus": 1})
    assert cost.units == 3


def test_a_sparse_index_costs_nothing_without_its_key() -> None:
    assert write_cost(SHAPE, None, item(), transactional=False).units == 1


def test_a_transaction_doubles_the_table_write_but_not_the_index_writes() -> None:
    cost = write_cost(SHAPE, None, item(typeKey="T#x"), transactional=True)
    assert (cost.base, cost.indexes) == (2, {"byType": 1})


def test_a_changed_index_key_is_a_delete_and_a_put() -> None:
    cost = write_cost(SHAPE, item(status="open"), item(status="closed"), transactional=False)
    assert cost.indexes == {"byStatus": 2}


def test_an_unprojected_change_writes_no_index_entry_but_a_projected_one_does() -> None:
    before = item(typeKey="T#x", status="open", note="a")
    after = item(typeKey="T#x", status="open", note="b")
    assert write_cost(SHAPE, before, after, transactional=False).indexes == {"byStatus": 1}


def test_leaving_an_index_is_one_delete() -> None:
    cost = write_cost(SHAPE, item(quarantined="Q"), item(), transactional=False)
    assert cost.indexes == {"byQuarantine": 1}


def test_the_larger_of_before_and_after_is_billed() -> None:
    big = item(blob="x" * 1500)
    assert write_cost(SHAPE, big, item(), transactional=False).base == 2
    assert write_cost(SHAPE, None, None, transactional=False).base == 1


def test_reads_are_four_kilobyte_units_halved_when_eventually_consistent() -> None:
    small = [item(a="b")]
    assert read_units(small) == 0.5
    assert read_units(small, consistent=True) == 1.0
    assert read_units(small, transactional=True) == 2.0
    assert read_units([item(blob="x" * 5000)], consistent=True) == 2.0
    assert read_units([]) == 0.5  # a miss still costs a read


def test_a_filtered_query_pays_for_what_it_scanned() -> None:
    returned = [item(blob="x" * 1000)]
    assert read_units(returned, consistent=True, scanned=10) == 3.0


def test_table_shapes_come_from_the_template_resources() -> None:
    resources = {
        "T": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "byX",
                        "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["y"]},
                    }
                ],
            },
        },
        "Q": {"Type": "AWS::SQS::Queue", "Properties": {}},
    }
    assert table_shapes(resources) == {"T": TableShape(("id",), (Index("byX", ("x",), "INCLUDE", ("y",)),))}
