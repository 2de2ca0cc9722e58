"""The bench's figures: targets, paired ratios, read amplification, filter combinations, the table, layouts."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest

from local.bench_child import answer_key, fallback_key, summary
from local.bench_layout import layer_from_recipe, makefile_recipe
from local.bench_report import (
    Results,
    amplification,
    combination_name,
    document,
    filter_combinations,
    growth,
    holds,
    paired_ratio,
    render_table,
    table_rows,
    targets_for,
)


def test_intake_functions_get_the_tighter_cold_start_target() -> None:
    targets = targets_for(["cold_start_ratio.Webhooks", "cold_start_ratio.Queries"], ["Webhooks"])
    assert targets == {"cold_start_ratio.Webhooks": 1.4, "cold_start_ratio.Queries": 1.6}


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("warm_cpu_ratio.push", 1.5),
        ("read_amplification.sessions.status+idTag", 1.0),
        ("read_growth.security_events.none", 1.0),
        ("write_units_per_event.notification", 4.0),
        ("aws_calls_per_event.start", 2.0),
        ("tenant_calls_per_event.start", 1.0),
        ("sns_publishes_per_event", 1.0),
    ],
)
def test_targets_by_figure(name: str, target: float) -> None:
    assert targets_for([name], [])[name] == target


@pytest.mark.parametrize("name", ["write_units_per_event.push", "cost_per_million_usd.push", "warm_cpu_ms.relay"])
def test_figures_without_a_target(name: str) -> None:
    assert name not in targets_for([name], [])


def test_a_figure_holds_at_its_target_as_printed() -> None:
    assert holds("warm_cpu_ratio.push", 1.504, 1.5) is True  # printed 1.50
    assert holds("warm_cpu_ratio.push", 1.506, 1.5) is False
    assert holds("cost_per_million_usd.push", 12.0, None) is None
    assert holds("warm_cpu_ratio.push", math.nan, 1.5) is None


def test_the_paired_ratio_is_the_median_of_each_runs_ratio_of_medians() -> None:
    runs = [([2.0, 2.0, 9.0], [1.0, 1.0, 1.0]), ([3.0], [1.0]), ([4.0], [2.0])]
    assert paired_ratio(runs) == 2.0
    assert math.isnan(paired_ratio([]))


def test_amplification_does_not_count_the_look_ahead_item() -> None:
    assert amplification(101, 100, 1) == 1.0
    assert amplification(1015, 22, 0) == pytest.approx(46.14, abs=0.01)
    assert math.isinf(amplification(40, 0, 0))
    assert math.isnan(amplification(0, 0, 0))


def test_growth_from_the_small_table_to_the_large_one() -> None:
    assert growth(2.0, 20.0) == 10.0
    assert math.isnan(growth(math.nan, 1.0))


def test_every_combination_of_the_filters_once() -> None:
    combos = filter_combinations(["a", "b", "c"])
    assert len(combos) == 8
    assert combos[0] == ()
    assert len(set(combos)) == 8
    assert [combination_name(c) for c in combos[:2]] == ["none", "a"]
    assert combination_name(("a", "c")) == "a+c"


def test_the_table_says_whether_each_target_holds() -> None:
    results = Results()
    results.add("warm_cpu_ratio.push", 1.7, "1.0 ms / baseline 0.6 ms", 0.6)
    results.add("write_units_per_event.push", 4.0)
    rows = table_rows(results, {"warm_cpu_ratio.push": 1.5})
    assert rows == [
        ["warm_cpu_ratio.push", "1.70", "1.0 ms / baseline 0.6 ms", "<= 1.5", "NO"],
        ["write_units_per_event.push", "4.00", "", "-", "-"],
    ]
    out = io.StringIO()
    render_table(out, ["figure", "value", "measured", "target", "holds"], rows, "lrlrl")
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["figure", "value", "measured", "target", "holds"]
    assert lines[2].endswith("NO")


def test_results_json_has_metrics_baselines_and_targets() -> None:
    results = Results()
    results.add("read_growth.sessions.none", 1.0, "", 1.0)
    results.add("read_amplification.sessions.none", math.inf)
    doc = document(results, {"read_growth.sessions.none": 1.0}, {"how": []})
    assert doc["metrics"] == {"read_growth.sessions.none": 1.0, "read_amplification.sessions.none": None}
    assert doc["baselines"] == {"read_growth.sessions.none": 1.0}
    assert doc["targets"] == {"read_growth.sessions.none": 1.0}


def test_recorded_answers_are_keyed_by_operation_and_what_it_is_about() -> None:
    key = answer_key("dynamodb", "Query", {"TableName": "T", "IndexName": "byX", "Limit": 3})
    assert key == "dynamodb|Query|T|byX|||"
    assert fallback_key(key) == "dynamodb|Query"


@pytest.mark.parametrize(
    ("result", "text"),
    [
        ({"statusCode": 202, "body": "{}"}, "status 202"),
        ({"batchItemFailures": [{"itemIdentifier": "1"}]}, "1 failed items"),
        (None, "ok"),
        ({"finalised": 0}, "ok"),
    ],
)
def test_a_cold_starts_answer_in_short(result: object, text: str) -> None:
    assert summary(result) == text


def test_a_makefile_layer_is_read_from_its_recipe(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(
        "PIP := pip install --target x\n\n"
        ".PHONY: build-Layer\n"
        "build-Layer:\n"
        "\t$(PIP) -r requirements.txt  # with what they need\n"
        '\t$(PIP) --no-deps -r extra.txt\n\tcp -R pkg "$(ARTIFACTS_DIR)/python/"\n'
        "\nother:\n\techo no\n"
    )
    (tmp_path / "requirements.txt").write_text("python-dateutil\n")
    (tmp_path / "extra.txt").write_text("# only these\nurllib3==2.0\n")
    recipe = makefile_recipe(tmp_path / "Makefile", "build-Layer")
    assert recipe is not None
    assert len(recipe) == 3
    build = layer_from_recipe("Layer", tmp_path, recipe)
    assert build.copies == (tmp_path / "pkg",)
    assert {"python-dateutil", "six", "urllib3"} <= set(build.distributions)
    assert makefile_recipe(tmp_path / "Makefile", "build-Other") is None
