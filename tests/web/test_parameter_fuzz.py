"""Every HTTP parameter fuzzed, not only bodies: query parameters, path segments, cursors and
headers of every keyed route. The only acceptable answers are 2xx and 4xx; 5xx means a bug."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.test_vayu import event, post

# Text as a client can put it in a URL or a header: anything printable, plus the odd shapes
# parsers trip on (digits from other scripts, signs, huge numbers, separators).
TRICKY = st.sampled_from(
    ["", " ", "²", "٣", "1e3", "-1", "0", "2.0", "2.5", "9" * 40, "+1", "1_000", "null", "%00"]
)
TEXT = st.one_of(TRICKY, st.text(max_size=40), st.from_regex(r"[0-9.:+-]{1,30}", fullmatch=True))
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


def cursor_like() -> st.SearchStrategy[str]:
    """Base64url of `a:b` with arbitrary (also huge or negative) integers, and raw text."""
    numbers = st.integers(min_value=-(2**80), max_value=2**80)
    encoded = st.tuples(numbers, numbers).map(
        lambda pair: base64.urlsafe_b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()
    )
    return st.one_of(encoded, TEXT)


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def answered(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.text)


@FUZZ
@given(
    limit=st.one_of(st.none(), TEXT),
    cursor=st.one_of(st.none(), cursor_like()),
    start=st.one_of(st.none(), TEXT),
    end=st.one_of(st.none(), TEXT),
    name=st.one_of(st.none(), TEXT),
)
def test_vayu_query_parameters(
    client: Any, limit: Any, cursor: Any, start: Any, end: Any, name: Any
) -> None:
    params = {"limit": limit, "cursor": cursor, "startTime": start, "endTime": end}
    params["eventName"] = name
    answered(client.get("/events", params={k: v for k, v in params.items() if v is not None}))


@FUZZ
@given(ref=st.text(min_size=1, max_size=40))
def test_vayu_ref_path_segments(client: Any, ref: str) -> None:
    answered(client.get(f"/events/{quote(ref, safe='')}"))
    answered(client.delete(f"/v2/events/{quote(ref, safe='/')}"))


@FUZZ
@given(limit=st.one_of(st.none(), TEXT), cursor=st.one_of(st.none(), cursor_like()))
def test_customer_list_parameters(client: Any, limit: Any, cursor: Any) -> None:
    params = {k: v for k, v in {"limit": limit, "cursor": cursor}.items() if v is not None}
    answered(client.get("/v1/customers", params=params))


@FUZZ
@given(customer_id=st.text(min_size=1, max_size=40))
def test_customer_path_segments(client: Any, customer_id: str) -> None:
    answered(client.get(f"/v1/customers/{quote(customer_id, safe='')}"))
    answered(client.put(f"/v1/customers/{quote(customer_id, safe='/')}", json={}))


@FUZZ
@given(
    headers=st.dictionaries(
        st.sampled_from(
            ["x-request-id", "content-type", "content-encoding", "authorization", "user-agent"]
        ),
        HEADER_TEXT,
    ),
    path=st.sampled_from(["/events", "/events/batch", "/collect/event", "/v1/event/"]),
)
def test_headers_on_every_ingest_route(client: Any, headers: dict[str, str], path: str) -> None:
    body = {"events": [event("fuzz")]}
    answered(client.post(path, json=body, headers=headers))


def test_the_cases_that_were_500s(client: Any) -> None:
    """Found before: a non-ASCII digit as limit, a cursor beyond 64 bits."""
    post(client, {"events": [event("a"), event("b"), event("c")]})
    assert client.get("/events", params={"limit": "²"}).status_code == 400
    huge = base64.urlsafe_b64encode(f"{2**70}:1".encode()).decode()
    assert client.get("/events", params={"cursor": huge}).status_code == 400
    # Vayu's SDK types limit as a float and sends it so.
    page = client.get("/events", params={"limit": "2.0"})
    assert page.status_code == 200 and len(page.json()["events"]) == 2
