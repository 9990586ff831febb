"""The gRPC ceiling: a bare grpc.aio server answering Ingest and IngestStream with canned
responses, with the options `sluice serve` gives its server (no auth, no pipeline).

    .venv/bin/python -m bench.bare_grpc   # prints "listening on 127.0.0.1:PORT"
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from sluice.rpc.server import server_options
from sluice.settings import Settings
from sluice.v1 import ingest_pb2

CANNED = ingest_pb2.IngestResponse(accepted=1).SerializeToString()


async def ingest(request: bytes, context: Any) -> bytes:
    return CANNED


async def ingest_stream(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    # bench/grpc_load.py numbers each stream's batches 1, 2, 3...: acks echo that count
    # without decoding the batch.
    sequence = 0
    async for _request in requests:
        sequence += 1
        yield ingest_pb2.IngestStreamResponse(sequence=sequence, accepted=1).SerializeToString()


async def main() -> None:
    server = grpc.aio.server(options=server_options(Settings()))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "sluice.v1.IngestService",
                {
                    "Ingest": grpc.unary_unary_rpc_method_handler(ingest),
                    "IngestStream": grpc.stream_stream_rpc_method_handler(ingest_stream),
                },
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main())
