"""The KeyStore contract (tenants and API keys), run over every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import pytest

from sluice.api_keys import ApiKeys
from sluice.errors import Unauthenticated
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
