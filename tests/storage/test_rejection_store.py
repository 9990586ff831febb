"""The RejectionStore contract, run over every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import pytest

from sluice.model import CONFLICT, DUPLICATE, INVALID, RejectedEvent, RejectionQuery
from sluice.storage import RejectionStore

pytestmark = pytest.mark.anyio

KEEP = 1_000


def refusal(
    at: int, name: str = "api_call", reason: str = INVALID, source: str = "vayu"
) -> RejectedEvent:
    return RejectedEvent(at, f"req-{at}", source, name, reason, "ref", "ref is required.", "{}")


async def test_refusals_read_back_newest_first_with_what_the_client_was_told(
    store: RejectionStore,
) -> None:
    await store.record_rejections("acme", [refusal(1), refusal(2)], {}, KEEP, 0)
    await store.record_rejections("acme", [refusal(3, "upload")], {}, KEEP, 0)
    found = await store.list_rejections("acme", RejectionQuery())
    assert [r.at for r in found] == [3, 2, 1]
    assert found[0].seq > found[1].seq > found[2].seq > 0
    first = found[2]
    assert (first.request_id, first.source, first.name, first.reason) == (
        "req-1",
        "vayu",
        "api_call",
        INVALID,
    )
    assert (first.field, first.message, first.event) == ("ref", "ref is required.", "{}")


async def test_refusals_filter_by_source_name_reason_and_time_and_page_by_seq(
    store: RejectionStore,
) -> None:
    await store.record_rejections(
        "acme",
        [
            refusal(1, "a"),
            refusal(2, "b", CONFLICT, "grpc"),
            refusal(3, "a", source="enso"),
            refusal(4, "a"),
        ],
        {},
        KEEP,
        0,
    )
    at = lambda query: [r.at for r in query]  # noqa: E731
    assert at(await store.list_rejections("acme", RejectionQuery(name="a"))) == [4, 3, 1]
    assert at(await store.list_rejections("acme", RejectionQuery(source="grpc"))) == [2]
    assert at(await store.list_rejections("acme", RejectionQuery(reason=INVALID))) == [4, 3, 1]
    assert at(await store.list_rejections("acme", RejectionQuery(since=3))) == [4, 3]
    page = await store.list_rejections("acme", RejectionQuery(limit=2))
    assert at(page) == [4, 3]
    rest = await store.list_rejections("acme", RejectionQuery(before=page[-1].seq, limit=2))
    assert at(rest) == [2, 1]


async def test_tenants_never_see_each_other_s_refusals(store: RejectionStore) -> None:
    await store.record_rejections("acme", [refusal(1)], {("vayu", INVALID): 1}, KEEP, 0)
    await store.record_rejections("globex", [refusal(2)], {("vayu", DUPLICATE): 5}, KEEP, 0)
    assert [r.at for r in await store.list_rejections("globex", RejectionQuery())] == [2]
    assert await store.rejection_counts("acme") == {("vayu", INVALID): 1}
    assert await store.rejection_counts("nobody") == {}


async def test_counts_add_up_across_records(store: RejectionStore) -> None:
    await store.record_rejections(
        "acme", [], {("vayu", DUPLICATE): 2, ("", "RATE_LIMITED"): 1}, KEEP, 0
    )
    await store.record_rejections("acme", [], {("vayu", DUPLICATE): 3}, KEEP, 0)
    assert await store.rejection_counts("acme") == {("vayu", DUPLICATE): 5, ("", "RATE_LIMITED"): 1}


async def test_a_flood_keeps_only_the_newest_and_the_recent(store: RejectionStore) -> None:
    """Bounded by count and by age, per tenant: another tenant's refusals are not pruned."""
    await store.record_rejections("globex", [refusal(1)], {}, KEEP, 0)
    await store.record_rejections("acme", [refusal(at) for at in range(1, 21)], {}, 5, 0)
    assert [r.at for r in await store.list_rejections("acme", RejectionQuery())] == [
        20,
        19,
        18,
        17,
        16,
    ]
    await store.record_rejections("acme", [refusal(21)], {}, 5, 19)
    assert [r.at for r in await store.list_rejections("acme", RejectionQuery())] == [21, 20, 19]
    assert len(await store.list_rejections("globex", RejectionQuery())) == 1
