"""hypothesis-jsonschema 0.23.1 on hypothesis 6.170: its object strategy still calls `many.more()`.

Hypothesis replaced that method by an iterator (`with many(...) as elements: for _ in elements`). The
adapter below gives hypothesis-jsonschema the old interface on top of the new one, for its module only.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import hypothesis_jsonschema._from_schema as from_schema_module
from hypothesis.internal.conjecture import utils as conjecture_utils


class _ManyWithMore:
    """`many` as hypothesis-jsonschema drives it: `while elements.more(): ...; elements.reject()`."""

    def __init__(self, data: Any, **sizes: Any) -> None:
        self._many = conjecture_utils.many(data, **sizes)
        self._many.__enter__()
        self._elements = iter(self._many)

    def more(self) -> bool:
        try:
            next(self._elements)
        except StopIteration:
            self._many.__exit__(None, None, None)
            return False
        return True

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


def install() -> None:
    """Point hypothesis-jsonschema (only) at the adapter; a no-op where `more()` still exists."""
    if hasattr(conjecture_utils.many, "more"):
        return
    from_schema_module.cu = SimpleNamespace(many=_ManyWithMore)  # type: ignore[attr-defined,assignment]
