"""`sluice meters`: a tenant's meters on the server's store (Vayu's SDK has no create)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sluice.cli.common import (
    Formatter,
    fail,
    known_tenant,
    settings_of,
    store_options,
    with_store,
)
from sluice.documents import json_object
from sluice.errors import InvalidJson, InvalidParameter
from sluice.metering import Metering
from sluice.model import Meter
from sluice.storage import Store


def _meters_create(args: argparse.Namespace) -> int:
    """`sluice meters create --tenant T '{"name":…,"eventName":…,"aggregationMethod":{…}}'`:
    the document `POST /meters` takes; prints the meter with its new id."""
    try:
        document = json_object(args.document.encode())
    except InvalidJson as exc:
        return fail(f"the meter is not a JSON object: {exc}", 2)

    async def create(store: Store) -> Meter:
        await known_tenant(store, args.tenant, create=False, now_us=0)
        return await Metering(store).create_meter(args.tenant, document)

    try:
        meter = with_store(settings_of(args), create)
    except InvalidParameter as exc:
        return fail(f"{exc.param}: {exc}")
    print(json.dumps({"id": meter.id, **meter.document}, ensure_ascii=False))
    return 0


def _meters_list(args: argparse.Namespace) -> int:
    async def write(store: Store) -> None:
        await known_tenant(store, args.tenant, create=False, now_us=0)
        after: str | None = None
        while True:
            page = await Metering(store).meters(args.tenant, after, 1000)
            for meter in page.items:
                print(json.dumps({"id": meter.id, **meter.document}, ensure_ascii=False))
            if not page.has_more:
                return
            after = page.items[-1].id

    with_store(settings_of(args), write)
    return 0


def _meters_delete(args: argparse.Namespace) -> int:
    deleted = with_store(
        settings_of(args), lambda store: Metering(store).delete_meter(args.tenant, args.id)
    )
    if deleted is None:
        return fail(f"no meter {args.id!r} in {args.tenant!r}")
    print(f"deleted meter {args.id!r} (and its measurements)")
    return 0


def add_commands(commands: Any) -> None:
    meters = commands.add_parser(
        "meters", help="manage a tenant's meters", formatter_class=Formatter
    ).add_subparsers(dest="meters_command", required=True, metavar="COMMAND")
    made = meters.add_parser(
        "create", help="create a meter from its JSON document", formatter_class=Formatter
    )
    made.add_argument("--tenant", required=True, help="the meter's tenant")
    made.add_argument("document", help='{"name", "eventName", "aggregationMethod", "filter"?}')
    store_options(made)
    made.set_defaults(run=_meters_create)
    shown = meters.add_parser("list", help="print meters as JSON lines", formatter_class=Formatter)
    shown.add_argument("--tenant", required=True, help="whose meters")
    store_options(shown)
    shown.set_defaults(run=_meters_list)
    dropped = meters.add_parser(
        "delete", help="delete a meter by its id", formatter_class=Formatter
    )
    dropped.add_argument("--tenant", required=True, help="the meter's tenant")
    dropped.add_argument("id", help="the id `meters list` shows")
    store_options(dropped)
    dropped.set_defaults(run=_meters_delete)
