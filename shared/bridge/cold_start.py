"""Imported first by every handler, which calls `settle()` last: a lean init, then the collector settled.

Imports. `aws_lambda_powertools.event_handler/__init__.py` imports every resolver (AppSync's pulls in asyncio,
Bedrock's, VPC Lattice's), `utilities.parameters` every provider (AppConfig, DynamoDB, SSM) and
`utilities.data_classes` every event class. Python runs a package's `__init__` before any of its submodules, so
importing `...event_handler.api_gateway` alone does not avoid them. Each package below is registered without
running its `__init__`: its submodules import as usual, a name the `__init__` re-exports (`from ...data_classes
import S3Event`) loads just the submodule that defines it, and any other name runs the real `__init__` then.

Garbage collection. An import allocates tens of thousands of objects that live as long as the container, and the
collector's young generation would scan them a hundred times meanwhile (3 to 9% of the import, measured). Until
`settle()`, it collects rarely; `settle()` then freezes what init built (so no later collection scans it again;
init leaves a few hundred unreachable objects, frozen with the rest) and restores the thresholds.
"""

from __future__ import annotations

import ast
import gc
import importlib
import importlib.util
import sys
import threading
from typing import Any

DEFERRED = (
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.data_classes",
)

_lock = threading.RLock()
_THRESHOLDS = gc.get_threshold()
_INIT_THRESHOLD = 100_000  # allocations between young collections during init (Python's default: 700)


def settle() -> None:
    """The end of a handler's init: what it built leaves the collector's generations; normal collection resumes."""
    gc.freeze()
    gc.set_threshold(*_THRESHOLDS)


def defer_package_init(name: str) -> None:
    """Register package `name` so that its `__init__` runs only for a name it defines but does not re-export."""
    if name in sys.modules:
        return  # already imported in full: nothing to save
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    loader = spec.loader
    package = importlib.util.module_from_spec(spec)
    exports: dict[str, tuple[str, str]] | None = None
    initialised = False

    def module_getattr(attribute: str) -> Any:  # PEP 562: asked only for what the module does not hold yet
        nonlocal exports, initialised
        if attribute.startswith("__") and attribute != "__all__":
            raise AttributeError(attribute)
        if exports is None:
            exports = _reexports(name, loader.get_source(name) or "")  # type: ignore[attr-defined]
        if attribute in exports:
            module, original = exports[attribute]
            value = getattr(importlib.import_module(module), original)
            setattr(package, attribute, value)
            return value
        try:
            return importlib.import_module(f"{name}.{attribute}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.{attribute}":
                raise
        with _lock:  # Lambda inits on one thread; the local run may ask from several
            if not initialised:
                initialised = True
                loader.exec_module(package)  # the package's own __init__, in place, once
        try:
            return vars(package)[attribute]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}") from None

    setattr(package, "__getattr__", module_getattr)  # noqa: B010 - a module's attribute hook (PEP 562)
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, package)


def _reexports(package: str, source: str) -> dict[str, tuple[str, str]]:
    """{name: (submodule, name there)} for each `from <own submodule> import name` at the top of an `__init__`."""
    found: dict[str, tuple[str, str]] = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if node.level == 1:
            module = f"{package}.{node.module}"
        elif node.level == 0 and node.module.startswith(f"{package}."):
            module = node.module
        else:
            continue
        for alias in node.names:
            found[alias.asname or alias.name] = (module, alias.name)
    return found


gc.set_threshold(_INIT_THRESHOLD, *_THRESHOLDS[1:])
for _name in DEFERRED:
    defer_package_init(_name)
