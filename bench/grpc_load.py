"""A gRPC load generator process: closed-loop `Ingest` calls or `IngestStream` batches.

bench_grpc.py starts several of these (separate processes, loopback only, bounded in time).
Requests are serialized once into a template whose event ids hold a fixed-width placeholder;
each request replaces it with a fresh tag of the same width (one C-level bytes.replace), so
every event is new and no per-request protobuf work is done here.

    python -m bench.grpc_load TARGET KEY --mode unary|stream --batch N --concurrency C
        --seconds S --tag PREFIX --start-at EPOCH   # prints one JSON line
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import struct_pb2, timestamp_pb2

from bench import corpus
from sluice.v1 import ingest_pb2

PLACEHOLDER = b"@" * 16  # as wide as every tag
INGEST = "/sluice.v1.IngestService/Ingest"
INGEST_STREAM = "/sluice.v1.IngestService/IngestStream"
STREAM_WINDOW = 2  # batches in flight per stream: one being committed, one waiting


def ingest_template(batch: int) -> bytes:
    """The events of corpus.templated_vayu_batch(batch) as a serialized IngestRequest."""
    text = PLACEHOLDER.join(corpus.templated_vayu_batch(batch))
    events = []
    for event in json.loads(text)["events"]:
        timestamp = timestamp_pb2.Timestamp()
        timestamp.FromJsonString(event["timestamp"])
        data = struct_pb2.Struct()
        data.update(event["data"])
        events.append(
            ingest_pb2.Event(
                id=event["ref"],
                name=event["name"],
                customer_id=event["customerAlias"],
                timestamp=timestamp,
                data=data,
            )
        )
    return ingest_pb2.IngestRequest(events=events).SerializeToString()


def with_sequence(message: bytes, sequence: int) -> bytes:
    """IngestStreamRequest = IngestRequest's fields + `sequence` (field 3, varint)."""
    out = bytearray(message)
    out.append(3 << 3)
    while True:
        low, sequence = sequence & 0x7F, sequence >> 7
        out.append(low | (0x80 if sequence else 0))
        if not sequence:
            return bytes(out)


class Load:
    def __init__(self, template: bytes, batch: int, tag: str, deadline: float) -> None:
        self.template, self.batch, self.deadline = template, batch, deadline
        self.prefix = tag
        self.sent = 0
        self.calls = 0
        self.accepted = 0
        self.errors: dict[str, int] = {}
        self.latencies_us: list[int] = []

    def next_body(self) -> bytes:
        self.sent += 1
        tag = f"{self.prefix}{self.sent:0{len(PLACEHOLDER) - len(self.prefix)}d}"
        return self.template.replace(PLACEHOLDER, tag.encode())

    def record(self, started: float, accepted: int) -> None:
        self.calls += 1
        self.accepted += accepted
        self.latencies_us.append(round((time.perf_counter() - started) * 1e6))

    def error(self, exc: BaseException) -> None:
        name = exc.code().name if isinstance(exc, grpc.aio.AioRpcError) else type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1


async def unary_worker(channel: grpc.aio.Channel, load: Load, metadata: Any) -> None:
    call = channel.unary_unary(INGEST)  # no serializers: bytes in, bytes out
    while time.monotonic() < load.deadline:
        body = load.next_body()
        started = time.perf_counter()
        try:
            answer = await call(body, metadata=metadata, timeout=30)
        except grpc.aio.AioRpcError as exc:
            load.error(exc)
            continue
        load.record(started, ingest_pb2.IngestResponse.FromString(answer).accepted)


async def stream_worker(channel: grpc.aio.Channel, load: Load, metadata: Any) -> None:
    """One IngestStream; up to STREAM_WINDOW batches unacknowledged."""
    window = asyncio.Semaphore(STREAM_WINDOW)
    sent_at: dict[int, float] = {}

    async def requests() -> AsyncIterator[bytes]:
        sequence = 0
        while time.monotonic() < load.deadline:
            await window.acquire()
            sequence += 1
            body = with_sequence(load.next_body(), sequence)
            sent_at[sequence] = time.perf_counter()
            yield body

    call = channel.stream_stream(INGEST_STREAM)(
        requests(), metadata=metadata, timeout=load.deadline - time.monotonic() + 30
    )
    try:
        async for answer in call:
            ack = ingest_pb2.IngestStreamResponse.FromString(answer)
            load.record(sent_at.pop(ack.sequence), ack.accepted)
            window.release()
    except grpc.aio.AioRpcError as exc:
        load.error(exc)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    template = ingest_template(args.batch)
    metadata = (("authorization", f"Bearer {args.key}"),)
    options = [("grpc.max_send_message_length", 4 << 20), ("grpc.max_receive_message_length", -1)]
    async with grpc.aio.insecure_channel(args.target, options=options) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        await asyncio.sleep(max(0.0, args.start_at - time.time()))
        started = time.monotonic()
        load = Load(template, args.batch, args.tag, started + args.seconds)
        worker = unary_worker if args.mode == "unary" else stream_worker
        await asyncio.gather(*(worker(channel, load, metadata) for _ in range(args.concurrency)))
        elapsed = time.monotonic() - started
    return {
        "calls": load.calls,
        "accepted": load.accepted,
        "seconds": elapsed,
        "errors": load.errors,
        "latencies_us": load.latencies_us,
        "cpu_seconds": time.process_time(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("key")
    parser.add_argument("--mode", choices=("unary", "stream"), default="unary")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--tag", default="g")
    parser.add_argument("--start-at", type=float, default=0)
    args = parser.parse_args()
    if not 1 <= len(args.tag) < len(PLACEHOLDER) - 6:
        sys.exit("--tag must be 1 to 9 characters")
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
