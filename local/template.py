"""Reads template.yaml: resources, API routes and stream sources, with CloudFormation tags kept."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


@dataclass(frozen=True)
class Tag:
    """An intrinsic function as written: `!Ref X` is Tag("Ref", "X")."""

    name: str
    value: Any


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    pass


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tag:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tag(suffix, value)


_Loader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data, intrinsic functions as Tag objects."""
    data = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True)
class Route:
    """One API event of a function."""

    method: str
    path: str
    function: str
    api_key_required: bool

    def match(self, path: str) -> dict[str, str] | None:
        """Path parameters when `path` fits this route's template."""
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class StreamSource:
    """A DynamoDB stream event source of a function."""

    function: str
    table: str
    batch_size: int
    filter_patterns: list[str] = field(default_factory=list)
    max_retries: int = 0


@dataclass
class TemplateModel:
    """What the local run and the tests need from the template."""

    raw: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.raw["Resources"])

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res["Type"] == cfn_type}

    def functions(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::Serverless::Function")

    def function_code_dir(self, function: str) -> Path:
        return ROOT / str(self.functions()[function]["Properties"]["CodeUri"])

    def default_api_key_required(self) -> bool:
        apis = self.of_type("AWS::Serverless::Api")
        return any(api["Properties"].get("Auth", {}).get("ApiKeyRequired", False) for api in apis.values())

    def routes(self) -> list[Route]:
        default = self.default_api_key_required()
        routes = []
        for name, fn in self.functions().items():
            for event in fn["Properties"].get("Events", {}).values():
                if event["Type"] != "Api":
                    continue
                props = event["Properties"]
                required = props.get("Auth", {}).get("ApiKeyRequired", default)
                routes.append(Route(props["Method"].upper(), props["Path"], name, bool(required)))
        return routes

    def stream_sources(self) -> list[StreamSource]:
        sources = []
        for name, fn in self.functions().items():
            for event in fn["Properties"].get("Events", {}).values():
                if event["Type"] != "DynamoDB":
                    continue
                props = event["Properties"]
                stream = props["Stream"]
                assert isinstance(stream, Tag), "streams are !GetAtt Table.StreamArn"
                assert stream.name == "GetAtt", "streams are !GetAtt Table.StreamArn"
                filters = props.get("FilterCriteria", {}).get("Filters", [])
                sources.append(
                    StreamSource(
                        function=name,
                        table=stream.value[0],
                        batch_size=int(props.get("BatchSize", 100)),
                        filter_patterns=[f["Pattern"] for f in filters],
                        max_retries=int(props.get("MaximumRetryAttempts", 0)),
                    )
                )
        return sources

    def parameter_defaults(self) -> dict[str, Any]:
        return {name: p.get("Default") for name, p in self.raw.get("Parameters", {}).items()}
