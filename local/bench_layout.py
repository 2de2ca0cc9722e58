"""Each function laid out as `sam build` and Lambda lay it out, in a scratch directory, for the cold starts.

- the function's code directory (its `CodeUri`, as the build copies it: sources only);
- each layer's `python/` as its `BuildMethod` makes it: `python3.x` copies the `ContentUri` in and installs its
  `requirements.txt` with everything they require; `makefile` runs the layer's `build-<Layer>` recipe, read here
  for its `pip install [--no-deps] -r FILE` and `cp -R DIR` lines. Installing means copying the same
  distributions' files from this virtualenv (no download; this machine's wheels, not Lambda's arm64 ones);
- the runtime's own packages (Lambda's `/var/runtime`: boto3 and what it requires), compiled as AWS ships them.

The code and layers exist twice: compiled (`compileall --invalidation-mode unchecked-hash`, as `make build`
does) and without any `.pyc` (a package built without them: Lambda's code directories are read-only, so every
cold start compiles). Files are hard links to the sources where the file system allows.
"""

from __future__ import annotations

import compileall
import os
import py_compile
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from local.template import ROOT, Tag, TemplateModel

RUNTIME_REQUIREMENTS = ("boto3",)  # what Lambda's Python runtime ships in /var/runtime
_SKIPPED_NAMES = ("__pycache__", ".pytest_cache", ".mypy_cache")
_SKIP = shutil.ignore_patterns(*_SKIPPED_NAMES, "*.pyc", "*.egg-info")


@dataclass
class Layout:
    """Where each piece is; `compiled` picks the tree with .pyc files or the one without."""

    root: Path
    runtime: Path
    layers: dict[bool, list[Path]] = field(default_factory=dict)
    code: dict[bool, dict[str, Path]] = field(default_factory=dict)
    baselines: dict[str, Path] = field(default_factory=dict)
    layer_distributions: list[str] = field(default_factory=list)

    def paths(self, function: str, *, compiled: bool) -> list[str]:
        """sys.path as Lambda sets it: code directory, layers, runtime."""
        return [str(self.code[compiled][function]), *(str(p) for p in self.layers[compiled]), str(self.runtime)]

    def baseline_paths(self, function: str) -> list[str]:
        return [str(self.baselines[function]), str(self.runtime)]


def requirement_closure(lines: Iterable[str]) -> set[str]:
    """The distributions pip would install for these requirement lines: them and everything they require."""
    from packaging.requirements import Requirement

    pending = [Requirement(line) for line in (raw.split("#", 1)[0].strip() for raw in lines) if line]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement = pending.pop()
        key = (requirement.name.lower().replace("_", "-"), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        for spec in requires:
            dependency = Requirement(spec)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in extras):
                pending.append(dependency)
    return {name for name, _ in seen}


@dataclass(frozen=True)
class LayerBuild:
    """What a layer's build puts into `python/`: directories copied from its content, and distributions."""

    name: str
    content: Path
    copies: tuple[Path, ...]  # copied into python/ under their own names
    distributions: tuple[str, ...]
    method: str


def layers(template_model: TemplateModel) -> list[LayerBuild]:
    """The template's layers that the functions use (Globals or their own Layers), as their builds make them."""
    names: list[str] = []
    candidates = [template_model.raw.get("Globals", {}).get("Function", {}).get("Layers", [])]
    candidates += [f["Properties"].get("Layers", []) for f in template_model.functions().values()]
    for listed in candidates:
        for layer in listed:
            if isinstance(layer, Tag) and layer.name == "Ref" and str(layer.value) not in names:
                names.append(str(layer.value))
    resources = template_model.resources
    builds = []
    for name in (n for n in names if n in resources):
        content = ROOT / str(resources[name]["Properties"]["ContentUri"])
        method = str(resources[name].get("Metadata", {}).get("BuildMethod", "python3.12"))
        recipe = makefile_recipe(content / "Makefile", f"build-{name}") if method == "makefile" else None
        builds.append(layer_from_recipe(name, content, recipe) if recipe else _python_build(name, content, method))
    return builds


def _python_build(name: str, content: Path, method: str) -> LayerBuild:
    """sam build's Python builder: the content as it is, and requirements.txt installed with its dependencies."""
    requirements = content / "requirements.txt"
    lines = requirements.read_text().splitlines() if requirements.exists() else []
    everything = tuple(
        p for p in sorted(content.iterdir()) if p.name not in _SKIPPED_NAMES and not p.name.endswith(".egg-info")
    )
    return LayerBuild(name, content, everything, tuple(sorted(requirement_closure(lines))), method)


def makefile_recipe(makefile: Path, target: str) -> list[str] | None:
    """The recipe lines of `target` in a Makefile (None without one)."""
    if not makefile.exists():
        return None
    recipe: list[str] | None = None
    for line in makefile.read_text().splitlines():
        if recipe is not None:
            if line.startswith("\t"):
                recipe.append(line.split("#", 1)[0].strip())
                continue
            if line.strip():
                break
        elif line.startswith(f"{target}:"):
            recipe = []
    return recipe


def layer_from_recipe(name: str, content: Path, recipe: list[str]) -> LayerBuild:
    """A `BuildMethod: makefile` layer, read from its recipe: `pip install [--no-deps] -r FILE` lines (the Makefile's
    PIP variable) install those requirements (with their dependencies unless --no-deps), `cp -R DIR` lines copy."""
    copies: list[Path] = []
    distributions: set[str] = set()
    for line in recipe:
        words = line.replace('"', " ").split()
        if "-r" in words:
            lines = (content / words[words.index("-r") + 1]).read_text().splitlines()
            if "--no-deps" in words:
                distributions |= {_requirement_name(raw) for raw in lines if _requirement_name(raw)}
            else:
                distributions |= requirement_closure(lines)
        elif words[:2] == ["cp", "-R"] and len(words) > 2:
            copies.append(content / words[2])
    return LayerBuild(name, content, tuple(copies), tuple(sorted(distributions)), "makefile")


def _requirement_name(line: str) -> str:
    from packaging.requirements import Requirement

    text = line.split("#", 1)[0].strip()
    return Requirement(text).name.lower().replace("_", "-") if text else ""


def build(
    root: Path, template_model: TemplateModel, baselines: Mapping[str, str], progress: Callable[[str], None]
) -> Layout:
    """The whole layout under `root`; `baselines` gives each baseline function's app.py source."""
    layout = Layout(root, root / "runtime")
    progress("layout: the runtime's boto3 (as /var/runtime)")
    _install(sorted(requirement_closure(RUNTIME_REQUIREMENTS)), layout.runtime)
    _compile(layout.runtime)
    builds = layers(template_model)
    layout.layer_distributions = [f"{b.name} ({b.method}): {', '.join(b.distributions)}" for b in builds]
    for compiled in (False, True):
        tree = root / ("compiled" if compiled else "sources")
        layout.layers[compiled] = []
        for index, layer in enumerate(builds):
            target = tree / f"layer{index}" / "python"
            for source in layer.copies:
                if source.is_dir():
                    _copy_tree(source, target / source.name)
                elif source.is_file():
                    _link(source, target / source.name)
            _install(layer.distributions, target)
            layout.layers[compiled].append(target)
        layout.code[compiled] = {}
        for function in template_model.functions():
            target = tree / "functions" / function
            code = template_model.function_code_dir(function)
            _copy_tree(code, target)
            if (code / "requirements.txt").exists():
                _install(sorted(requirement_closure((code / "requirements.txt").read_text().splitlines())), target)
            layout.code[compiled][function] = target
        if compiled:
            progress("layout: compiling the code and layers (unchecked-hash .pyc, as make build)")
            _compile(tree)
    for function, app in baselines.items():
        target = root / "baselines" / function
        target.mkdir(parents=True, exist_ok=True)
        (target / "app.py").write_text(app)
        _compile(target)
        layout.baselines[function] = target
    return layout


def _install(distributions: Iterable[str], target: Path) -> None:
    """What `pip install --target` leaves: each distribution's files (sources, data, metadata), no .pyc."""
    target.mkdir(parents=True, exist_ok=True)
    for name in distributions:
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for entry in distribution.files or []:
            if "__pycache__" in entry.parts or entry.suffix == ".pyc" or ".." in entry.parts:
                continue
            source = Path(str(distribution.locate_file(entry)))
            if source.is_file():
                _link(source, target / str(entry))


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=_SKIP, copy_function=_link_or_copy, dirs_exist_ok=True)


def _link_or_copy(source: str, target: str) -> Any:
    _link(Path(source), Path(target))
    return target


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _compile(tree: Path) -> None:
    compileall.compile_dir(
        str(tree), quiet=2, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
