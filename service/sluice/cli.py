"""The `sluice` command: serve, and manage API keys on whichever store the server uses."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sluice.keys import ApiKeys
from sluice.settings import Settings
from sluice.storage import Store, open_store

T = TypeVar("T")


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data directory (env SLUICE_DATA_DIR)")
    parser.add_argument("--store", help="store URL, e.g. sqlite:///path/db (env SLUICE_STORE)")


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides = {
        name: getattr(args, name)
        for name in ("host", "http_port", "grpc_port", "data_dir", "store")
        if getattr(args, name, None) is not None
    }
    return dataclasses.replace(settings, **overrides)


def _with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = open_store(settings.store_url)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def _keys_create(args: argparse.Namespace) -> int:
    async def create(store: Store) -> str:
        token, record = await ApiKeys(store).create(args.tenant)
        print(f"created key {record.key_id} for tenant {record.tenant!r} (shown once):")
        return token

    print(_with_store(_settings(args), create))
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    records = _with_store(_settings(args), lambda store: store.list_api_keys())
    print(f"{'KEY ID':<18} {'TENANT':<24} {'CREATED (UTC)':<20} STATUS")
    for record in records:
        created = datetime.datetime.fromtimestamp(record.created_at / 1e6, datetime.UTC)
        status = "revoked" if record.revoked_at else "active"
        print(f"{record.key_id:<18} {record.tenant:<24} {created:%Y-%m-%d %H:%M:%S}  {status}")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    now_us = int(datetime.datetime.now(datetime.UTC).timestamp() * 1e6)
    revoked = _with_store(_settings(args), lambda store: store.revoke_api_key(args.key_id, now_us))
    if not revoked:
        print(f"no active key with id {args.key_id}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from sluice.server import run

    run(_settings(args))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluice", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP and gRPC servers")
    serve.add_argument("--host", help="bind address (env SLUICE_HOST, default 127.0.0.1)")
    serve.add_argument("--http-port", type=int, help="HTTP port (env SLUICE_HTTP_PORT, 8080)")
    serve.add_argument("--grpc-port", type=int, help="gRPC port (env SLUICE_GRPC_PORT, 50051)")
    _store_options(serve)
    serve.set_defaults(run=_serve)

    keys = commands.add_parser("keys", help="manage API keys").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="mint a key; prints it as the last line")
    create.add_argument("--tenant", required=True)
    _store_options(create)
    create.set_defaults(run=_keys_create)
    listing = keys.add_parser("list", help="list keys (never their secrets)")
    _store_options(listing)
    listing.set_defaults(run=_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    _store_options(revoke)
    revoke.set_defaults(run=_keys_revoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
