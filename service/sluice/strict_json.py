"""Strict RFC 8259 JSON (CONTRACTS §2) for documents the Rust core does not parse.

Python's json module alone accepts NaN and Infinity, overflows `1e400` to inf, keeps the
last of duplicate keys, reads numbers of any length, and lets `"\\ud800"` through as a
string no encoder can write.
"""

from __future__ import annotations

import collections
import json
import math
from typing import Any

from sluice.errors import InvalidJson

MAX_DEPTH = 64
# As the core's parser (json.rs): longer literals would break readers downstream (Python
# refuses integers over 4300 digits); integers within the bound stay exact.
MAX_NUMBER_CHARS = 1000


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _bounded(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"number is longer than {MAX_NUMBER_CHARS} characters")
    return text


def _finite(text: str) -> float:
    number = float(_bounded(text))
    if not math.isfinite(number):
        raise ValueError("number is out of range for a 64-bit float")
    return number


def _integer(text: str) -> int:
    return int(_bounded(text))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        counts = collections.Counter(key for key, _ in pairs)
        raise ValueError(f"duplicate key {next(k for k, n in counts.items() if n > 1)!r}")
    return found


_DECODER = json.JSONDecoder(
    parse_float=_finite,
    parse_int=_integer,
    parse_constant=_no_constant,
    object_pairs_hook=_unique_keys,
)


def _check(value: Any, depth: int) -> None:
    """Nesting depth and well-formed text (no lone surrogates) of a decoded value."""
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ValueError("a string holds an unpaired surrogate (\\ud800-\\udfff)") from None
        return
    if isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            raise ValueError(f"nesting is deeper than {MAX_DEPTH} levels")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            _check(key, depth)
            _check(item, depth + 1)


def loads(data: bytes | str) -> Any:
    """The value of a strict JSON text; InvalidJson says what is wrong otherwise."""
    try:
        text = data.decode() if isinstance(data, bytes) else data
        value = _DECODER.decode(text)
        # The walk is needed only if the text could nest too deep or escape a surrogate; for
        # most documents two counts and a search rule both out (a tenth of the walk's cost).
        if text.count("[") + text.count("{") > MAX_DEPTH or "\\ud" in text or "\\uD" in text:
            _check(value, 1)
    except RecursionError as exc:
        raise InvalidJson(f"nesting is deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeError are ValueErrors
        raise InvalidJson(str(exc)) from exc
    return value
