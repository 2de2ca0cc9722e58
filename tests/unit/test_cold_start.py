"""bridge.cold_start's deferred package `__init__`, on a small package made for each test."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.cold_start import defer_package_init

INIT = """\
from .light import Light
from {package}.heavy import Heavy as Renamed
import sys
sys.modules[__name__].INIT_RAN = True
EXTRA = "only the __init__ defines this"
"""


@pytest.fixture
def package(tmp_path: Path) -> Iterator[str]:
    """`top_<id>.pkg`: an `__init__` that re-exports from two submodules and defines a name of its own."""
    name = f"top_{uuid.uuid4().hex}"
    root = tmp_path / name / "pkg"
    root.mkdir(parents=True)
    (tmp_path / name / "__init__.py").write_text("")
    (root / "__init__.py").write_text(INIT.format(package=f"{name}.pkg"))
    (root / "light.py").write_text("class Light: ...\n")
    (root / "heavy.py").write_text("class Heavy: ...\n")
    sys.path.insert(0, str(tmp_path))
    yield f"{name}.pkg"
    sys.path.remove(str(tmp_path))
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]


def test_a_submodule_imports_without_the_package_init(package: str) -> None:
    defer_package_init(package)

    light = importlib.import_module(f"{package}.light")

    assert light.Light.__name__ == "Light"
    assert "INIT_RAN" not in vars(sys.modules[package])  # asking hasattr would run the __init__
    assert f"{package}.heavy" not in sys.modules


def test_a_reexported_name_loads_only_the_submodule_that_defines_it(package: str) -> None:
    defer_package_init(package)

    deferred = importlib.import_module(package)
    renamed = deferred.Renamed

    assert renamed is importlib.import_module(f"{package}.heavy").Heavy
    assert f"{package}.light" not in sys.modules
    assert "INIT_RAN" not in vars(deferred)


def test_a_name_only_the_init_defines_runs_it_once(package: str) -> None:
    defer_package_init(package)
    deferred = importlib.import_module(package)

    assert deferred.EXTRA == "only the __init__ defines this"
    assert deferred.INIT_RAN is True
    assert deferred.Light is importlib.import_module(f"{package}.light").Light
    with pytest.raises(AttributeError):
        _ = deferred.MISSING


def test_a_package_already_imported_is_left_alone(package: str) -> None:
    imported = importlib.import_module(package)

    defer_package_init(package)

    assert sys.modules[package] is imported
    assert imported.INIT_RAN is True
