"""Strict JSON Schemas (draft 2020-12) derived from AMPECO Public API 3.110.0, and sample payloads.

Everything is read from this directory only (``schemas/*.json`` and ``examples/*.json``):

    from tests.contract.schemas import assert_valid, example

    assert_valid("security_events_listing", response.json())
    body = example("notification_session_update")        # a fresh copy, safe to mutate
    body = example("start_response_202", "rejected")      # a named variant (examples/<name>.<variant>.json)

Schema names are the file names without ``.json`` (see ``NAMES``). ``$ref`` between files is resolved
by ``$id`` through a ``referencing`` registry holding every schema in ``schemas/``.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HERE = Path(__file__).resolve().parent
SCHEMA_DIR = HERE / "schemas"
EXAMPLE_DIR = HERE / "examples"
BASE_URI = "https://ampeco-bridge.test/contract/schemas/"

NAMES: tuple[str, ...] = tuple(sorted(p.stem for p in SCHEMA_DIR.glob("*.json")))


def _decimal_multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Any:
    """`multipleOf` without binary float error (stock jsonschema says 7.4 is not a multiple of 0.1)."""
    if not validator.is_type(instance, "number"):
        return
    if Decimal(repr(instance)) % Decimal(repr(divisor)) != 0:
        yield ValidationError(f"{instance!r} is not a multiple of {divisor}")


# Draft 2020-12 with one fix: decimal-exact multipleOf (AMPECO's charging limits are multiples of 0.1).
StrictValidator = validators.extend(Draft202012Validator, {"multipleOf": _decimal_multiple_of})


_RFC3339_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _format_checker() -> FormatChecker:
    """jsonschema's checkers, with ``date-time`` pinned to RFC 3339 (offset required) by our own check.

    jsonschema only checks ``date-time`` when the optional ``rfc3339-validator`` is importable; without this
    every date-time would silently pass on a venv that lacks it.
    """
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _RFC3339_DATE_TIME.match(value):
            return False
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # ValueError on 2025-02-30 etc.
        return True

    return checker


def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    return {name: _read(SCHEMA_DIR / f"{name}.json") for name in NAMES}


@cache
def registry() -> Registry:
    """Every schema of ``schemas/``, keyed by its ``$id``."""
    resources = [
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
        for schema in _schemas().values()
    ]
    return Registry().with_resources(resources).crawl()


def load(name: str) -> dict[str, Any]:
    """The schema ``schemas/<name>.json`` as a dict (a copy)."""
    if name not in NAMES:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(NAMES)}")
    return copy.deepcopy(_schemas()[name])


@cache
def validator(name: str) -> Validator:
    """A draft 2020-12 validator for ``name``: format checking on (date-time needs an offset), ``$ref`` resolved
    within ``schemas/``. Its class is ``Draft202012Validator`` extended with a decimal-exact ``multipleOf``."""
    v: Validator = StrictValidator(load(name), registry=registry(), format_checker=_format_checker())
    return v


def errors(name: str, instance: Any) -> list[str]:
    """Every validation message for ``instance`` against ``name``, each prefixed with its JSON path."""
    found = sorted(validator(name).iter_errors(instance), key=lambda e: (e.json_path, e.message))
    return [f"{e.json_path}: {e.message}" for e in found]


def is_valid(name: str, instance: Any) -> bool:
    return not errors(name, instance)


def assert_valid(name: str, instance: Any) -> None:
    """Raise AssertionError listing every violation when ``instance`` does not match schema ``name``."""
    problems = errors(name, instance)
    if problems:
        raise AssertionError(f"not a valid {name}:\n  " + "\n  ".join(problems))


def assert_invalid(name: str, instance: Any) -> None:
    """Raise AssertionError when ``instance`` unexpectedly matches schema ``name``."""
    if not errors(name, instance):
        raise AssertionError(f"unexpectedly a valid {name}: {json.dumps(instance)[:500]}")


def example_files() -> dict[str, Path]:
    """``{"<schema>" or "<schema>.<variant>": path}`` for every file in ``examples/``."""
    return {p.stem: p for p in sorted(EXAMPLE_DIR.glob("*.json"))}


def variants(name: str) -> list[str]:
    """The named variants available for schema ``name`` (besides the default example)."""
    prefix = f"{name}."
    return [key[len(prefix) :] for key in example_files() if key.startswith(prefix)]


def example(name: str, variant: str | None = None) -> dict[str, Any]:
    """A fresh, valid, realistic AMPECO-shaped instance of schema ``name`` (``examples/<name>[.<variant>].json``)."""
    key = name if variant is None else f"{name}.{variant}"
    files = example_files()
    if key not in files:
        raise KeyError(f"no example {key!r}; known: {', '.join(files)}")
    return copy.deepcopy(_example(key))


@cache
def _example(key: str) -> dict[str, Any]:
    return _read(example_files()[key])


__all__ = [
    "BASE_URI",
    "NAMES",
    "assert_invalid",
    "assert_valid",
    "errors",
    "example",
    "example_files",
    "is_valid",
    "load",
    "registry",
    "validator",
    "variants",
]
