"""A stateful property test of exactly-once: random sequences of sends, blind retries,
restarts and concurrent sends, checked against a model after every step."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sluice.gateway import Gateway
from sluice.settings import Settings
from sluice.storage.sqlite import SqliteStore
from tests.conftest import stored_rows
from tests.test_ingest import ingest_vayu

refs = st.lists(st.sampled_from([f"r{i}" for i in range(12)]), min_size=1, max_size=6)


def body(batch: list[str]) -> bytes:
    return json.dumps(
        {
            "events": [
                {"name": "n", "timestamp": "2024-01-01T00:00:00Z", "customerAlias": "c", "ref": ref}
                for ref in batch
            ]
        }
    ).encode()


class ExactlyOnce(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.loop = asyncio.new_event_loop()
        self.gateway = self._start()
        self.model: set[str] = set()
        self.last: list[str] = []

    def _start(self) -> Gateway:
        gateway = Gateway(SqliteStore(self.dir / "sluice.db"), Settings(data_dir=self.dir))
        self.loop.run_until_complete(gateway.start())
        return gateway

    def _send(self, batch: list[str]) -> list[str]:
        result = self.loop.run_until_complete(ingest_vayu(self.gateway, "t", body(batch)))
        return [batch[i] for i in result.accepted]

    @rule(batch=refs)
    def send(self, batch: list[str]) -> None:
        accepted = self._send(batch)
        assert accepted == [r for r in dict.fromkeys(batch) if r not in self.model]
        self.model |= set(batch)
        self.last = batch

    @rule()
    def retry(self) -> None:
        if self.last:
            assert self._send(self.last) == []  # a blind retry is all duplicates

    @rule()
    def restart(self) -> None:
        self.loop.run_until_complete(self.gateway.stop())
        self.gateway = self._start()

    @rule(first=refs, second=refs)
    def concurrent(self, first: list[str], second: list[str]) -> None:
        async def both() -> list[list[int]]:
            results = await asyncio.gather(
                ingest_vayu(self.gateway, "t", body(first)),
                ingest_vayu(self.gateway, "t", body(second)),
            )
            return [r.accepted for r in results]

        got = self.loop.run_until_complete(both())
        accepted = [first[i] for i in got[0]] + [second[i] for i in got[1]]
        new = set(first + second) - self.model
        assert sorted(accepted) == sorted(new)  # each new ref accepted once, by one of them
        self.model |= new

    @invariant()
    def store_matches_model(self) -> None:
        assert {row[2] for row in stored_rows(self.dir)} == self.model
        assert len(stored_rows(self.dir)) == len(self.model)

    def teardown(self) -> None:
        self.loop.run_until_complete(self.gateway.stop())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)


TestExactlyOnce = ExactlyOnce.TestCase
TestExactlyOnce.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)
