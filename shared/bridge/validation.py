"""Reading input strictly: the one JSON reader for every body, and pydantic failures as AMPECO's `errors` map."""

from __future__ import annotations

import json
import math
import re
from array import array
from itertools import accumulate
from typing import Any

from pydantic import ValidationError

from bridge.errors import InvalidInput, MalformedJson

INVALID = "The given data was invalid."
NOT_JSON = "The request body is not valid JSON."
TOO_DEEP = "The request body is nested too deeply."
MAX_DEPTH = 64  # AMPECO's bodies nest under 10 levels; pydantic-core itself gives up past 200

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # linear on text that already parsed as JSON
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 / -1 once read as signed bytes
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def invalid_input(exc: ValidationError, prefix: str = "") -> InvalidInput:
    """A 422 naming each failing field with a dotted path, as AMPECO (Laravel) does."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "body"
        errors.setdefault(prefix + path, []).append(str(error["msg"]))
    return InvalidInput(INVALID, errors=errors)


def parse_json(body: bytes) -> Any:
    """RFC 8259 JSON in UTF-8, or MalformedJson (400).

    Python's reader also takes NaN, Infinity, numbers that overflow to infinity, lone surrogates and any
    depth (until RecursionError); other readers (the tenant, DynamoDB, SNS) refuse them, so none gets past here.
    """
    try:
        text = body.decode("utf-8")  # strict: invalid UTF-8 (raw surrogates included) is not JSON
        document = json.loads(text, parse_constant=_not_a_number, parse_float=_finite_float)
    except RecursionError as exc:
        raise MalformedJson(TOO_DEEP) from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, and the refusals below
        raise MalformedJson(NOT_JSON) from exc
    if _too_deep(text):
        raise MalformedJson(TOO_DEEP)
    if _SURROGATE_ESCAPE.search(text) and not _encodable(document):
        raise MalformedJson(NOT_JSON)
    return document


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise ValueError(f"{literal} overflows a double")
    return value


def _too_deep(text: str) -> bool:
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False  # too few brackets to nest that deep: the common case costs two counts
    outside_strings = _STRING.sub("", text).encode("ascii", errors="ignore")
    steps = array("b", outside_strings.translate(_BRACKET_STEPS, delete=_NOT_BRACKETS))
    return max(accumulate(steps), default=0) > MAX_DEPTH


def _encodable(document: Any) -> bool:
    # A \ud800 escape decodes to a lone surrogate, which no UTF-8 writer (DynamoDB, SNS, the tenant) takes.
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
