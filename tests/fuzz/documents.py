"""JSON documents, and bodies made from them with the mutations a fuzzer should try.

A mutation keeps most of a document and breaks one thing: a value of the wrong type, an extra field, a
fragment spliced in that JSON readers disagree on (NaN, 1e400, a lone surrogate escape, absurd nesting,
a huge string, odd unicode), or bytes that are not JSON at all.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import hypothesis.strategies as st

SPLICE = "@@fuzz-splice-7f3a@@"  # a string no generator draws: marks where a raw fragment goes
T = TypeVar("T")


def weighted(*choices: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """One of the strategies, each drawn `weight` times as often (`st.one_of` drops repeated ones)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)


def json_documents() -> st.SearchStrategy[Any]:
    """Any JSON value, small."""
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
        max_leaves=12,
    )


odd_strings = st.text(
    st.characters(categories=["Cc", "Cf", "Co", "Cs", "Mn", "Zl", "Zp", "Zs", "So", "Lo"])
    | st.sampled_from("\ufeff\uffff\U0010ffff"),
    max_size=40,
)
fixed_fragments = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1e400",
        "1e-400",
        "1" + "0" * 5000,
        "-0",
        '"\\ud800"',
        '"\\udfff\\ud800"',
        '"\\ud83d\\ude00"',
        '"\\u0000"',
        '"\t"',
        "'single'",
        "tru",
        "01",
        "+1",
        ".5",
        "[1,]",
        '{"a":1,"a":2}',
    ]
)
edge_depths = st.sampled_from([63, 64, 65, 200, 201, 1_000, 5_000, 100_000])
nesting_depths = weighted((2, edge_depths), (1, st.integers(1, 3_000)))
deep_fragments = nesting_depths.map(lambda depth: "[" * depth + "]" * depth)
huge_strings = st.builds(lambda n, c: json.dumps(c * n), st.integers(0, 200_000), st.sampled_from("x\u00e9\U0001f600"))
unicode_fragments = st.builds(
    lambda text, ascii_only: json.dumps(text, ensure_ascii=ascii_only), odd_strings, st.booleans()
)
fragments = weighted((3, fixed_fragments), (2, deep_fragments), (1, huge_strings), (2, unicode_fragments))

MUTATIONS = ("valid", "valid", "wrong_type", "extra_field", "splice", "splice", "splice", "not_json", "not_object")


@st.composite
def placed(draw: st.DrawFn, document: Any, value: Any) -> Any:
    """`document` with `value` put somewhere: in place of a node, or under a new key of an object."""
    if isinstance(document, dict) and document and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(document)))
        return {**document, key: draw(placed(document[key], value))}
    if isinstance(document, list) and document and draw(st.booleans()):
        index = draw(st.integers(0, len(document) - 1))
        return [*document[:index], draw(placed(document[index], value)), *document[index + 1 :]]
    if isinstance(document, dict) and draw(st.booleans()):
        return {**document, draw(st.text(max_size=12)): value}
    return value


@st.composite
def mutated(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> tuple[str, bytes]:
    """(mutation, body): a document from `documents`, serialised, with one mutation (or none: `valid`)."""
    document = draw(documents)
    mutation = draw(st.sampled_from(MUTATIONS))
    if mutation == "wrong_type":
        document = draw(placed(document, draw(json_documents())))
    elif mutation == "extra_field" and isinstance(document, dict):
        document = {**document, draw(st.text(min_size=1, max_size=20)): draw(json_documents())}
    elif mutation == "not_object":
        document = draw(scalars | st.lists(scalars, max_size=3))
    elif mutation == "splice":
        # Half in a field of its own: an open object (a start body) takes it past the models unchecked.
        if isinstance(document, dict) and draw(st.booleans()):
            document = {**document, draw(st.text(min_size=1, max_size=12)): SPLICE}
        else:
            document = draw(placed(document, SPLICE))
        marked = json.dumps(document, ensure_ascii=draw(st.booleans()))
        return mutation, marked.replace(json.dumps(SPLICE), draw(fragments), 1).encode("utf-8", "surrogatepass")
    serialised = json.dumps(document, ensure_ascii=draw(st.booleans())).encode()
    if mutation == "not_json":
        return mutation, draw(not_json(serialised))
    return mutation, serialised


@st.composite
def not_json(draw: st.DrawFn, text: bytes) -> bytes:
    """Bytes near `text` (or anywhere) that are not one JSON document."""
    how = draw(st.sampled_from(["bytes", "truncated", "bom", "tail", "latin1", "empty"]))
    if how == "bytes":
        return draw(st.binary(max_size=300))
    if how == "truncated" and len(text) > 1:
        return text[: draw(st.integers(1, len(text) - 1))]
    if how == "bom":
        return b"\xef\xbb\xbf" + text
    if how == "tail":
        return text + draw(st.sampled_from([b" x", b"}", b"\x00", b"\n{}"]))
    if how == "latin1":
        return text + b'"\xe9"'
    return draw(st.sampled_from([b"", b" ", b"\n\t"]))


def json_texts() -> st.SearchStrategy[bytes]:
    """Bodies built from any JSON document, mutated."""
    return mutated(json_documents()).map(lambda case: case[1])
