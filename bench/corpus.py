"""Deterministic request corpora: the same seed always gives the same bytes.

Every event is about 200 bytes of compact JSON, like the Vayu seed request. Bodies are built
as text here (not with json.dumps of dicts) so the Rust example reads the very same bytes.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

SEED = 20240501
# Fixed instants well in the past, so no event is refused as "in the future".
NOW_US = 1_714_600_000_000_000  # 2024-05-01T21:46:40Z
CORPORA = ("vayu", "vayu_dup10", "enso")

_REGIONS = ("eu-west-1", "us-east-1", "ap-south-1", "sa-east-1")
_STATUSES = ("ok", "error", "timeout")
_METRICS = ("cpu_seconds", "egress_bytes", "api_calls", "storage_gb")


def _timestamp(rng: random.Random) -> str:
    minute, second, millis = rng.randrange(60), rng.randrange(60), rng.randrange(1000)
    return f"2024-05-01T{rng.randrange(10, 20)}:{minute:02d}:{second:02d}.{millis:03d}Z"


def vayu_event(rng: random.Random, ref: str) -> str:
    """One Vayu event of ~200 bytes with the given ref."""
    return (
        '{"name":"api_call","timestamp":"' + _timestamp(rng) + '",'
        f'"customerAlias":"customer_{rng.randrange(100_000):05d}","ref":"{ref}",'
        f'"data":{{"region":"{rng.choice(_REGIONS)}","status":"{rng.choice(_STATUSES)}",'
        f'"durationMs":{rng.randrange(1, 5000)},"path":"/v1/items/{rng.randrange(10**6)}"}}}}'
    )


def enso_event(rng: random.Random, event_id: str) -> str:
    """One Enso measurement of ~200 bytes."""
    return (
        f'{{"CustomerEntityId":"ent_{rng.randrange(100_000):05d}",'
        f'"metric":"{rng.choice(_METRICS)}","value":{rng.randrange(1, 10**6) / 100},'
        f'"timestamp":"{_timestamp(rng)}","eventId":"{event_id}",'
        f'"metadata":{{"host":"web-{rng.randrange(64)}","region":"{rng.choice(_REGIONS)}"}},'
        f'"JobId":"job-{rng.randrange(10**6):06d}"}}'
    )


def batches(corpus: str, count: int, size: int = 1000, seed: int = SEED) -> list[bytes]:
    """`count` request bodies of `size` events each for one of CORPORA.

    vayu_dup10: one event in ten repeats the ref of an earlier event of its batch (every
    other one with different content), so the core reports 10% duplicates and conflicts.
    """
    rng = random.Random(f"{corpus}:{seed}")
    bodies = []
    for b in range(count):
        events: list[str] = []
        for i in range(size):
            ref = f"b{b:05d}-e{i:04d}-{rng.getrandbits(32):08x}"
            if corpus == "enso":
                events.append(enso_event(rng, ref))
            elif corpus == "vayu_dup10" and i % 10 == 9:
                earlier = events[rng.randrange(i - 9, i)]
                events.append(earlier if i % 20 == 19 else _with_ref_of(rng, earlier))
            else:
                events.append(vayu_event(rng, ref))
        bodies.append(('{"events":[' + ",".join(events) + "]}").encode())
    return bodies


def _with_ref_of(rng: random.Random, event: str) -> str:
    """A new event carrying `event`'s ref (same key, different content: a conflict)."""
    ref = event.split('"ref":"', 1)[1].split('"', 1)[0]
    return vayu_event(rng, ref)


def write(directory: Path, corpora: dict[str, list[bytes]]) -> None:
    """One file per corpus, bodies separated by newlines (compact JSON holds none)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, bodies in corpora.items():
        (directory / f"{name}.jsonl").write_bytes(b"\n".join(bodies) + b"\n")


def events_in(bodies: list[bytes]) -> int:
    return sum(body.count(b'"timestamp"') for body in bodies)


# Every templated event happened at this instant, as a live stream's events are all "now":
# the store's time index then grows at one end, as it does in production. (Timestamps spread
# over hours, repeated by every request, would make each request touch a thousand places of
# that index, which no real client does.)
LIVE_TIMESTAMP = '"timestamp":"2024-05-01T12:00:00.000Z"'


def templated_vayu_batch(size: int, seed: int = SEED) -> list[bytes]:
    """A Vayu body of `size` events split where each ref's unique prefix goes: joining the
    parts with a new tag (`tag.join(parts)`) makes a body whose refs no other request used.
    Load generators use this to send fresh events at the cost of one join per request.

    Refs are the tag plus the event's position, so one request's refs sort together (like
    ULIDs or UUIDv7); random UUIDv4 refs would scatter over the store's id indexes."""
    rng = random.Random(f"template:{seed}")
    parts: list[bytes] = []
    text = '{"events":['
    for i in range(size):
        event = vayu_event(rng, "\0" + f"-{i:04d}")
        event = re.sub('"timestamp":"[^"]*"', LIVE_TIMESTAMP, event, count=1)
        before, after = event.split("\0", 1)
        parts.append((text + before).encode())
        text = after + ("," if i + 1 < size else "")
    parts.append((text + "]}").encode())
    return parts
