"""The KeyStore contract (tenants and API keys), run over every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time

import pytest

from sluice.api_keys import ApiKeys, Principal
from sluice.errors import Unauthenticated
from sluice.model import ApiKeyRecord
from sluice.storage import KeyStore

pytestmark = pytest.mark.anyio


async def test_api_keys_are_hashed_and_revocable(store: KeyStore) -> None:
    keys = ApiKeys(store, cache_seconds=0)
    token, record = await keys.create("acme")
    assert token.startswith("sk_") and record.secret_hash != token.encode()
    assert (await keys.verify(token)).tenant == "acme"
    listed = await store.list_api_keys()
    assert [(r.key_id, r.tenant) for r in listed] == [(record.key_id, "acme")]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(Unauthenticated):
        await keys.verify(tampered)
    assert await store.revoke_api_key(record.key_id, 5)
    assert not await store.revoke_api_key(record.key_id, 6)
    with pytest.raises(Unauthenticated):
        await keys.verify(token)


async def test_tenants_are_listed_by_name_once_each(store: KeyStore) -> None:
    assert await store.list_tenants() == []
    await store.ensure_tenant("globex", 7)
    await store.ensure_tenant("acme", 9)
    await store.ensure_tenant("globex", 11)  # already there: unchanged
    assert await store.list_tenants() == [("acme", 9), ("globex", 7)]


async def test_any_key_is_known_once_the_first_is_made_even_revoked(store: KeyStore) -> None:
    keys = ApiKeys(store)
    assert not await keys.any()
    _token, record = await keys.create("acme")
    assert await keys.any()
    await store.revoke_api_key(record.key_id, 5)
    assert await keys.any()


async def test_a_created_key_records_its_tenant_rate_and_time(store: KeyStore) -> None:
    before = time.time_ns() // 1000
    token, record = await ApiKeys(store).create("acme", rate_limit=7)
    after = time.time_ns() // 1000
    assert isinstance(record.created_at, int) and before <= record.created_at <= after
    # The documented shape: `sk_<16 hex id>_<secret>`.
    assert re.fullmatch(r"[0-9a-f]{16}", record.key_id), record.key_id
    assert token.startswith(f"sk_{record.key_id}_")
    listed = await store.list_api_keys()
    assert [(r.key_id, r.tenant, r.rate_limit, r.created_at) for r in listed] == [
        (record.key_id, "acme", 7, record.created_at)
    ]
    [(tenant, created)] = await store.list_tenants()
    assert tenant == "acme" and before <= created <= after


async def test_a_key_is_read_from_the_store_once_per_cache_period(
    store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request verifies its key: a live key costs one store read per `cache_seconds`, and a
    revoked one is refused once its entry lapses."""
    keys = ApiKeys(store, cache_seconds=0.2)
    token, record = await keys.create("acme")
    lookups: list[str] = []
    find = store.find_api_key

    async def counted(key_id: str) -> ApiKeyRecord | None:
        lookups.append(key_id)
        return await find(key_id)

    monkeypatch.setattr(store, "find_api_key", counted)
    for _ in range(3):
        assert (await keys.verify(token)).key_id == record.key_id
        assert (await keys.verify_key_id(record.key_id)).tenant == "acme"
    assert lookups == [record.key_id, record.key_id]  # one for the key, one for its id
    assert await store.revoke_api_key(record.key_id, 5)
    await asyncio.sleep(0.3)
    with pytest.raises(Unauthenticated):
        await keys.verify(token)
    with pytest.raises(Unauthenticated) as refused:
        await keys.verify_key_id(record.key_id)
    assert str(refused.value) == "The API key behind this access token is no longer valid."


async def test_keys_of_different_tenants_are_told_apart_by_token_and_by_id(
    store: KeyStore,
) -> None:
    keys = ApiKeys(store)
    acme, acme_record = await keys.create("acme")
    globex, globex_record = await keys.create("globex", rate_limit=3)
    for _ in range(2):  # the second time from the cache
        assert await keys.verify(acme) == Principal("acme", acme_record.key_id, None)
        assert await keys.verify(globex) == Principal("globex", globex_record.key_id, 3)
        assert (await keys.verify_key_id(acme_record.key_id)).tenant == "acme"
        assert (await keys.verify_key_id(globex_record.key_id)).tenant == "globex"


async def test_a_key_s_secret_may_hold_underscores_and_run_to_200_characters(
    store: KeyStore,
) -> None:
    """Minted secrets are base64url, so "_" is as likely as any other character in them; the id
    is what comes before the first one. 200 characters is the longest key accepted."""
    await store.ensure_tenant("acme", 1)
    keys = ApiKeys(store)
    for key_id, secret in [("k1", "a_b_c"), ("k2", "_" * (200 - len("sk_k2_")))]:
        token = f"sk_{key_id}_{secret}"
        digest = hashlib.sha256(token.encode()).digest()
        await store.add_api_key(ApiKeyRecord(key_id, "acme", digest, 1))
        assert (await keys.verify(token)).key_id == key_id
    assert len(token) == 200
    longer = "sk_k3_" + "_" * (201 - len("sk_k3_"))
    await store.add_api_key(ApiKeyRecord("k3", "acme", hashlib.sha256(longer.encode()).digest(), 1))
    with pytest.raises(Unauthenticated) as refused:
        await keys.verify(longer)
    assert str(refused.value) == "Invalid API key."
