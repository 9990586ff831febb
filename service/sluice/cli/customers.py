"""`sluice customers add|list|import`: a tenant's customer registry from the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from sluice.cli.common import (
    Formatter,
    fail,
    known_tenant,
    plural,
    settings_of,
    store_options,
    with_store,
)
from sluice.customer_import import (
    MAX_EXAMPLES,
    ImportReport,
    UnreadableImport,
    csv_records,
    import_customers,
    jsonl_records,
)
from sluice.documents import loads_strict
from sluice.errors import CustomerConflict, InvalidCustomer, InvalidJson
from sluice.model import Customer
from sluice.registry import CustomerRegistry, document
from sluice.storage import Store

# `customers import` reads a file's format from its extension unless --format says.
IMPORT_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}


def _now_us() -> int:
    return time.time_ns() // 1000


def _attribute(text: str) -> tuple[str, Any]:
    """`key=text` (a string) or `key:=json` (any JSON value), as httpie spells them."""
    key, sep, value = text.partition("=")
    if not sep or not key.removesuffix(":"):
        raise ValueError(f"--attr {text!r}: expected key=value or key:=json")
    return (key[:-1], loads_strict(value.encode())) if key.endswith(":") else (key, value)


def _customers_add(args: argparse.Namespace) -> int:
    try:
        attributes = dict(_attribute(text) for text in args.attr)
    except (ValueError, InvalidJson) as exc:
        return fail(str(exc), 2)
    fields = {"id": args.id, "email": args.email, "aliases": args.alias, "attributes": attributes}

    async def add(store: Store) -> tuple[Customer, bool]:
        await known_tenant(store, args.tenant, args.create_tenant, _now_us())
        registry = CustomerRegistry(store)
        return await registry.put(args.tenant, registry.customer_from(fields))

    try:
        customer, created = with_store(settings_of(args), add)
    except (InvalidCustomer, CustomerConflict) as exc:
        return fail(str(exc))
    print(f"{'created' if created else 'replaced'} customer {customer.id!r} in {args.tenant!r}")
    return 0


def _customers_list(args: argparse.Namespace) -> int:
    """One JSON line per customer, in the import format: the output imports again as is."""

    async def write(store: Store) -> None:
        await known_tenant(store, args.tenant, False, 0)
        async for customer in CustomerRegistry(store).each(args.tenant, args.limit):
            print(json.dumps(document(customer), ensure_ascii=False))

    with_store(settings_of(args), write)
    return 0


def _customers_import(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    from_name = "jsonl" if args.file == "-" else IMPORT_FORMATS.get(Path(args.file).suffix.lower())
    format_ = args.format or from_name
    if format_ is None:
        return fail(f"cannot tell the format of {args.file!r}; pass --format jsonl|csv", 2)
    try:
        stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    except OSError as exc:
        return fail(f"{args.file}: {exc.strerror or exc}", 2)
    read = jsonl_records if format_ == "jsonl" else csv_records
    size = None if args.file == "-" else os.fstat(stream.fileno()).st_size

    async def run(store: Store) -> ImportReport:
        if not (args.dry_run and args.create_tenant):  # a dry run creates nothing
            await known_tenant(store, args.tenant, args.create_tenant, _now_us())
        with _import_progress(stream, size) as progress:
            return await import_customers(
                CustomerRegistry(store),
                args.tenant,
                read(stream, settings.max_body_bytes),
                progress,
                all_or_nothing=args.atomic,
                dry_run=args.dry_run,
            )

    try:
        with stream:
            report = with_store(settings, run)
    except UnreadableImport as exc:
        return fail(f"{args.file}: {exc}", 2)
    print(_summary(report, args), file=sys.stdout)
    if report.rejected:
        shown = report.examples
        print(
            f"rejected {plural(report.rejected, 'line')}; the first {len(shown)}:",
            file=sys.stderr,
        )
        for line, reason in shown:
            print(f"  line {line}: {reason}", file=sys.stderr)
    return 1 if report.rejected else 0


def _summary(report: ImportReport, args: argparse.Namespace) -> str:
    into = f"into {args.tenant!r}"
    if args.dry_run:
        return f"dry run: would import {plural(report.valid, 'customer')} {into}; nothing written"
    if args.atomic and report.rejected:
        return (
            f"imported nothing {into} (--atomic: "
            f"{plural(report.valid, 'good customer')} not written)"
        )
    return f"imported {plural(report.imported, 'customer')} {into}"


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
        rows = report.valid + report.rejected
        bar.update(task, completed=stream.tell() if size is not None else 0, rows=rows)

    with bar:
        yield advance


def _tenant_options(parser: argparse.ArgumentParser, creates: bool) -> None:
    parser.add_argument("--tenant", required=True, help="the tenant (see `sluice tenants list`)")
    if creates:
        parser.add_argument(
            "--create-tenant",
            action="store_true",
            help="make the tenant if it does not exist (otherwise an unknown tenant is an "
            "error, so a typo creates nothing)",
        )


def add_commands(commands: Any) -> None:
    customers = commands.add_parser(
        "customers", help="manage a tenant's customers", formatter_class=Formatter
    )
    customer_commands = customers.add_subparsers(
        dest="customers_command", required=True, metavar="COMMAND"
    )
    add = customer_commands.add_parser(
        "add", help="add a customer, or replace one with its id", formatter_class=Formatter
    )
    _tenant_options(add, creates=True)
    add.add_argument("--id", required=True, help="the customer's id")
    add.add_argument("--email", help="the customer's email (unique in the tenant)")
    add.add_argument("--alias", action="append", default=[], help="repeat for more aliases")
    add.add_argument(
        "--attr", action="append", default=[], help="key=text or key:=json; repeatable"
    )
    store_options(add)
    add.set_defaults(run=_customers_add)
    listed = customer_commands.add_parser(
        "list", help="print customers as JSON lines", formatter_class=Formatter
    )
    _tenant_options(listed, creates=False)
    listed.add_argument("--limit", type=int, help="at most this many (default: all)")
    store_options(listed)
    listed.set_defaults(run=_customers_list)
    imported = customer_commands.add_parser(
        "import",
        help="add or replace customers from a JSON-lines or CSV file",
        formatter_class=Formatter,
        description=f"Bad lines are reported by number (the first {MAX_EXAMPLES}) and the exit "
        "status is 1. Without --atomic the good lines are imported; with it, none are unless "
        "all are good.",
    )
    _tenant_options(imported, creates=True)
    imported.add_argument("file", help="a .jsonl or .csv file; - reads JSON lines from stdin")
    imported.add_argument(
        "--format",
        choices=sorted(set(IMPORT_FORMATS.values())),
        help="the file's format (default: from its extension)",
    )
    mode = imported.add_mutually_exclusive_group()
    mode.add_argument(
        "--atomic",
        action="store_true",
        help="all or nothing: import no line unless every line is good (one transaction; "
        "the whole file is held in memory)",
    )
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="check every line, the store's rules included, and write nothing",
    )
    store_options(imported)
    imported.set_defaults(run=_customers_import)
