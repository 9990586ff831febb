"""Property tests: the Rust parser agrees with a strict reading of JSON in Python, on what it
accepts and on the values it extracts; and the idempotency model holds step after step."""

from __future__ import annotations

import collections
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice import _core

NOW = 1_800_000_000_000_000
LIMITS = _core.Limits()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
# Tokens that strict parsers disagree about when spliced into an otherwise valid document.
hostile = st.sampled_from(
    [
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"1e400",
        b"01",
        b"+1",
        b".5",
        b"1.",
        b"\\ud800",
        b'"\\udc00"',
        b"\xff",
        b"\xef\xbb\xbf",
        b"\x00",
        b"//",
        b"/*x*/",
        b",",
        b"]",
        b"}",
        b'"\x01"',
        b"\t",
        b"\x0b",
        b"\xc0\x80",
        b'"\\u0000"',
        b"[" * 70,
        b"9" * 1001,
        b"true ",
    ]
)


def wrap(events: bytes) -> bytes:
    return b'{"events":[' + events + b"]}"


def rust_accepts_json(body: bytes) -> bool:
    try:
        _core.parse_vayu_batch(body, "t", NOW, LIMITS)
    except _core.InvalidJson:
        return False
    except (_core.InvalidBatch, _core.PayloadTooLarge):
        return True  # well-formed JSON that is not a batch
    return True


# The rules (CONTRACTS §2), stated independently of the Rust parser: `json.loads` plus what
# it lets through. It accepts NaN and Infinity, overflows `1e400` to inf, keeps the last of
# duplicate keys, reads numbers of any length, and lets `"\ud800"` through as a string no
# encoder can write.
MAX_DEPTH = 64
MAX_NUMBER_CHARS = 1000


class Refused(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise Refused(f"{name} is not JSON")


def _bounded(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise Refused("number too long")
    return text


def _finite(text: str) -> float:
    number = float(_bounded(text))
    if not math.isfinite(number):
        raise Refused("number out of range")
    return number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if max(collections.Counter(key for key, _ in pairs).values(), default=1) > 1:
        raise Refused("duplicate key")
    return dict(pairs)


_STRICT = json.JSONDecoder(
    parse_float=_finite,
    parse_int=lambda text: int(_bounded(text)),
    parse_constant=_refuse_constant,
    object_pairs_hook=_unique_keys,
)


def _check(value: Any, depth: int) -> None:
    if isinstance(value, str):
        value.encode()  # an unpaired surrogate raises UnicodeEncodeError
    elif isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            raise Refused("too deep")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            _check(key, depth)
            _check(item, depth + 1)


NOT_JSON = object()


def strict_reading(body: bytes) -> Any:
    """The document's value under the rules, or NOT_JSON."""
    try:
        value = _STRICT.decode(body.decode())
        _check(value, 1)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeError are ValueErrors
        return NOT_JSON
    return value


def loads_strict(body: bytes) -> Any:
    try:
        return _core.loads_strict(body)
    except _core.InvalidJson:
        return NOT_JSON


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.integers(min_value=0, max_value=200), hostile)
def test_parsers_agree_on_what_is_json(value: Any, position: int, token: bytes) -> None:
    text = wrap(json.dumps({"name": "n", "data": value}).encode())
    assert rust_accepts_json(text)
    assert loads_strict(text) == strict_reading(text) == json.loads(text)
    cut = position % (len(text) + 1)
    spliced = text[:cut] + token + text[cut:]
    expected = strict_reading(spliced)
    assert loads_strict(spliced) == expected, spliced
    assert rust_accepts_json(spliced) == (expected is not NOT_JSON), spliced


@pytest.mark.parametrize(
    "document",
    [
        b"NaN",
        b"[Infinity]",
        b"[-Infinity]",
        b"1e400",
        b"-1e400",
        b"9" * 1001,
        b"[0." + b"1" * 999 + b"]",
        b'{"a":1,"a":2}',
        b'{"a":{"b":1,"b":1}}',
        b'"\\ud800"',
        b'["\\udc00"]',
        b"[" * 65 + b"]" * 65,
        b'"\xff"',
        b"\xef\xbb\xbf{}",
        b"{} x",
        b"",
    ],
)
def test_loads_strict_refuses_what_the_rules_forbid(document: bytes) -> None:
    assert strict_reading(document) is NOT_JSON
    with pytest.raises(_core.InvalidJson):
        _core.loads_strict(document)


def test_loads_strict_reads_what_json_loads_reads() -> None:
    document = (
        b'{"int":-0,"big":'
        + b"9" * 1000
        + b',"float":1E-5,"tiny":1e-400,"s":"\\u00e9\\ud83d\\ude00",'
        b'"nested":' + b"[" * 63 + b"null" + b"]" * 63 + b',"t":true,"f":false}'
    )
    value = _core.loads_strict(document)
    assert value == json.loads(document)
    assert [type(v) for v in value.values()][:4] == [int, int, float, float]
    assert list(value) == ["int", "big", "float", "tiny", "s", "nested", "t", "f"]


events = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["api_call", "login", "", " "]),
        "ref": st.sampled_from(["r1", "r2", "r3", ""]),
        "customerAlias": st.sampled_from(["c1", "c2"]),
        "timestamp": st.sampled_from(
            ["2024-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-01-01T05:00:00.5+05:00"]
        ),
    },
    optional={
        "data": st.one_of(
            st.dictionaries(st.text(max_size=5), json_values, max_size=3),
            st.lists(scalars, max_size=2),
        )
    },
)


def reference(event: dict[str, Any]) -> tuple[str, Any] | None:
    """Python's reading of one Vayu event: (ref, data) if valid, None if not."""
    for field in ("name", "customerAlias", "ref"):
        if not event[field].strip():
            return None
    if event["timestamp"].startswith("2024-02-30"):
        return None
    data = event.get("data")
    if data is not None and not isinstance(data, dict):
        return None
    return event["ref"], data if data is not None else {}


@settings(max_examples=300, deadline=None)
@given(st.lists(events, min_size=1, max_size=8))
def test_parsers_agree_on_extracted_values(batch: list[dict[str, Any]]) -> None:
    body = json.dumps({"events": batch}).encode()
    parsed = _core.parse_vayu_batch(body, "t", NOW, LIMITS)
    seen: set[tuple[str, str]] = set()
    expected_rows = {}
    for index, event in enumerate(batch):
        read = reference(event)
        if read is None or (event["name"], event["ref"]) in seen:
            continue
        seen.add((event["name"], event["ref"]))
        expected_rows[index] = read
    rows = {row.index: (row.id, json.loads(row.payload)) for row in parsed.events}
    assert rows == expected_rows
    rejected = {index for index, *_ in parsed.rejected}
    assert rejected == set(range(len(batch))) - set(expected_rows)
    for start, end in parsed.spans:  # every echoed span is the event exactly as sent
        assert json.loads(body[start:end]) in batch
