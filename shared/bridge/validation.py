"""Pydantic failures as AMPECO's `errors` map (field path -> messages)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from bridge.errors import InvalidInput, MalformedJson

INVALID = "The given data was invalid."


def invalid_input(exc: ValidationError, prefix: str = "") -> InvalidInput:
    """A 422 naming each failing field with a dotted path, as AMPECO (Laravel) does."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "body"
        errors.setdefault(prefix + path, []).append(str(error["msg"]))
    return InvalidInput(INVALID, errors=errors)


def parse_json(body: bytes) -> Any:
    """JSON or a 400."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJson("The request body is not valid JSON.") from exc
