"""The `sluice` command: serve, and manage API keys, customers and meters on the server's store."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from sluice import datadir, strict_json
from sluice.api_keys import ApiKeys
from sluice.customer_import import (
    ImportReport,
    UnreadableImport,
    csv_records,
    import_customers,
    jsonl_records,
)
from sluice.errors import CustomerConflict, InvalidCustomer, InvalidJson, InvalidParameter
from sluice.metering import Metering
from sluice.model import Customer
from sluice.registry import CustomerRegistry, document
from sluice.settings import Settings
from sluice.storage import Store, open_store

# `customers import` reads a file's format from its extension unless --format says.
IMPORT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}

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
        token, record = await ApiKeys(store).create(args.tenant, rate_limit=args.rate_limit)
        print(f"created key {record.key_id} for tenant {record.tenant!r} (shown once):")
        return token

    print(_with_store(_settings(args), create))
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    records = _with_store(_settings(args), lambda store: store.list_api_keys())
    print(f"{'KEY ID':<18} {'TENANT':<24} {'CREATED (UTC)':<20} {'RATE/S':<8} STATUS")
    for record in records:
        created = datetime.datetime.fromtimestamp(record.created_at / 1e6, datetime.UTC)
        status = "revoked" if record.revoked_at else "active"
        rate = "default" if record.rate_limit is None else str(record.rate_limit)
        print(
            f"{record.key_id:<18} {record.tenant:<24} {created:%Y-%m-%d %H:%M:%S}  "
            f"{rate:<8} {status}"
        )
    return 0


def _keys_limit(args: argparse.Namespace) -> int:
    rate = None if args.rate == "default" else int(args.rate)
    changed = _with_store(
        _settings(args), lambda store: store.set_api_key_rate_limit(args.key_id, rate)
    )
    if not changed:
        print(f"no key with id {args.key_id}", file=sys.stderr)
        return 1
    print(f"{args.key_id}: {'the server default' if rate is None else rate} requests/s")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    now_us = int(datetime.datetime.now(datetime.UTC).timestamp() * 1e6)
    revoked = _with_store(_settings(args), lambda store: store.revoke_api_key(args.key_id, now_us))
    if not revoked:
        print(f"no active key with id {args.key_id}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}")
    return 0


def _fail(message: str, code: int = 1) -> int:
    print(f"sluice: {message}", file=sys.stderr)
    return code


def _attribute(text: str) -> tuple[str, Any]:
    """`key=text` (a string) or `key:=json` (any JSON value), as httpie spells them."""
    key, sep, value = text.partition("=")
    if not sep or not key.removesuffix(":"):
        raise ValueError(f"--attr {text!r}: expected key=value or key:=json")
    return (key[:-1], strict_json.loads(value)) if key.endswith(":") else (key, value)


def _customers_add(args: argparse.Namespace) -> int:
    try:
        attributes = dict(_attribute(text) for text in args.attr)
    except (ValueError, InvalidJson) as exc:
        return _fail(str(exc), 2)
    fields = {"id": args.id, "email": args.email, "aliases": args.alias, "attributes": attributes}

    async def add(store: Store) -> tuple[Customer, bool]:
        registry = CustomerRegistry(store)
        return await registry.put(args.tenant, registry.customer_from(fields))

    try:
        customer, created = _with_store(_settings(args), add)
    except (InvalidCustomer, CustomerConflict) as exc:
        return _fail(str(exc))
    print(f"{'created' if created else 'replaced'} customer {customer.id!r} in {args.tenant!r}")
    return 0


def _customers_list(args: argparse.Namespace) -> int:
    """One JSON line per customer, in the import format: the output imports again as is."""

    async def write(store: Store) -> None:
        async for customer in CustomerRegistry(store).each(args.tenant, args.limit):
            print(json.dumps(document(customer), ensure_ascii=False))

    _with_store(_settings(args), write)
    return 0


def _customers_import(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from_name = "jsonl" if args.file == "-" else IMPORT_FORMATS.get(Path(args.file).suffix.lower())
    format_ = args.format or from_name
    if format_ is None:
        return _fail(f"cannot tell the format of {args.file!r}; pass --format jsonl|csv", 2)
    try:
        stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        return _fail(str(exc), 2)
    read = jsonl_records if format_ == "jsonl" else csv_records
    size = None if args.file == "-" else os.fstat(stream.fileno()).st_size
    try:
        with stream, _import_progress(stream, size) as progress:
            report = _with_store(
                settings,
                lambda store: import_customers(
                    CustomerRegistry(store),
                    args.tenant,
                    read(stream, settings.max_body_bytes),
                    progress,
                ),
            )
    except UnreadableImport as exc:
        return _fail(f"{args.file}: {exc}", 2)
    print(f"imported {report.imported:,} customers into {args.tenant!r}")
    if report.rejected:
        print(f"rejected {report.rejected:,} lines; the first:", file=sys.stderr)
        for line, reason in report.examples:
            print(f"  line {line}: {reason}", file=sys.stderr)
    return 1 if report.rejected else 0


@contextlib.contextmanager
def _import_progress(
    stream: BinaryIO, size: int | None
) -> Iterator[Callable[[ImportReport], None]]:
    """A progress bar on stderr: by bytes read when the file's size is known, else rows."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("importing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    task = bar.add_task("import", total=size, rows=0)

    def advance(report: ImportReport) -> None:
        rows = report.imported + report.rejected
        bar.update(task, completed=stream.tell() if size is not None else 0, rows=rows)

    with bar:
        yield advance


def _meters_create(args: argparse.Namespace) -> int:
    """`sluice meters create --tenant T '{"name":…,"eventName":…,"aggregationMethod":{…}}'`:
    the document `POST /meters` takes; prints the meter with its new id."""
    try:
        document = strict_json.loads(args.document.encode())
    except InvalidJson as exc:
        return _fail(f"the meter is not JSON: {exc}", 2)
    if not isinstance(document, dict):
        return _fail("the meter must be a JSON object", 2)
    try:
        meter = _with_store(
            _settings(args), lambda store: Metering(store).create_meter(args.tenant, document)
        )
    except InvalidParameter as exc:
        return _fail(f"{exc.param}: {exc}")
    print(json.dumps({"id": meter.id, **meter.document}, ensure_ascii=False))
    return 0


def _meters_list(args: argparse.Namespace) -> int:
    async def write(store: Store) -> None:
        after: str | None = None
        while True:
            page = await Metering(store).meters(args.tenant, after, 1000)
            for meter in page.items:
                print(json.dumps({"id": meter.id, **meter.document}, ensure_ascii=False))
            if not page.has_more:
                return
            after = page.items[-1].id

    _with_store(_settings(args), write)
    return 0


def _meters_delete(args: argparse.Namespace) -> int:
    deleted = _with_store(
        _settings(args), lambda store: Metering(store).delete_meter(args.tenant, args.id)
    )
    if deleted is None:
        return _fail(f"no meter {args.id!r} in {args.tenant!r}")
    print(f"deleted meter {args.id!r} (and its measurements)")
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
    create.add_argument(
        "--rate-limit",
        type=int,
        help="requests per second for this key (0 = unlimited; "
        "default: the server's SLUICE_RATE_LIMIT)",
    )
    _store_options(create)
    create.set_defaults(run=_keys_create)
    listing = keys.add_parser("list", help="list keys (never their secrets)")
    _store_options(listing)
    listing.set_defaults(run=_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    _store_options(revoke)
    revoke.set_defaults(run=_keys_revoke)
    limit = keys.add_parser("limit", help="set a key's requests per second")
    limit.add_argument("key_id")
    limit.add_argument("rate", help="requests per second, 0 for unlimited, or 'default'")
    _store_options(limit)
    limit.set_defaults(run=_keys_limit)

    customers = commands.add_parser("customers", help="manage a tenant's customers")
    customer_commands = customers.add_subparsers(dest="customers_command", required=True)
    add = customer_commands.add_parser("add", help="add a customer, or replace one with its id")
    add.add_argument("--tenant", required=True)
    add.add_argument("--id", required=True)
    add.add_argument("--email")
    add.add_argument("--alias", action="append", default=[], help="repeat for more aliases")
    add.add_argument(
        "--attr", action="append", default=[], help="key=text or key:=json; repeatable"
    )
    _store_options(add)
    add.set_defaults(run=_customers_add)
    listed = customer_commands.add_parser("list", help="print customers as JSON lines")
    listed.add_argument("--tenant", required=True)
    listed.add_argument("--limit", type=int, help="at most this many (default: all)")
    _store_options(listed)
    listed.set_defaults(run=_customers_list)
    imported = customer_commands.add_parser(
        "import", help="add or replace customers from a JSON-lines or CSV file"
    )
    imported.add_argument("--tenant", required=True)
    imported.add_argument("file", help="a .jsonl or .csv file; - reads JSON lines from stdin")
    imported.add_argument("--format", choices=sorted(set(IMPORT_FORMATS.values())))
    _store_options(imported)
    imported.set_defaults(run=_customers_import)

    meters = commands.add_parser("meters", help="manage a tenant's meters")
    meter_commands = meters.add_subparsers(dest="meters_command", required=True)
    made = meter_commands.add_parser("create", help="create a meter from its JSON document")
    made.add_argument("--tenant", required=True)
    made.add_argument("document", help='{"name", "eventName", "aggregationMethod", "filter"?}')
    _store_options(made)
    made.set_defaults(run=_meters_create)
    shown = meter_commands.add_parser("list", help="print meters as JSON lines")
    shown.add_argument("--tenant", required=True)
    _store_options(shown)
    shown.set_defaults(run=_meters_list)
    dropped = meter_commands.add_parser("delete", help="delete a meter by its id")
    dropped.add_argument("--tenant", required=True)
    dropped.add_argument("id")
    _store_options(dropped)
    dropped.set_defaults(run=_meters_delete)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    datadir.private_by_default()
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
