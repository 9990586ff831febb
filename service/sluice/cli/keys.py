"""`sluice keys create|list|revoke|limit` and `sluice tenants list`."""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any

from sluice.access import revocation_delay
from sluice.api_keys import ApiKeys
from sluice.cli.common import Formatter, fail, settings_of, store_options, with_store
from sluice.storage import ApiKeyRecord, Store


def _created(micros: int) -> str:
    return f"{datetime.datetime.fromtimestamp(micros / 1e6, datetime.UTC):%Y-%m-%d %H:%M:%S}"


def _keys_create(args: argparse.Namespace) -> int:
    async def create(store: Store) -> str:
        token, record = await ApiKeys(store).create(args.tenant, rate_limit=args.rate_limit)
        print(f"created key {record.key_id} for tenant {record.tenant!r} (shown once):")
        return token

    print(with_store(settings_of(args), create))
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    records = with_store(settings_of(args), lambda store: store.list_api_keys())
    print(f"{'KEY ID':<18} {'TENANT':<24} {'CREATED (UTC)':<20} {'RATE/S':<8} STATUS")
    for record in records:
        status = "revoked" if record.revoked_at else "active"
        rate = "default" if record.rate_limit is None else str(record.rate_limit)
        print(
            f"{record.key_id:<18} {record.tenant:<24} {_created(record.created_at)}  "
            f"{rate:<8} {status}"
        )
    return 0


def _rate(text: str) -> int | None:
    """`sluice keys limit`'s rate: requests per second (0 unlimited) or `default`."""
    if text == "default":
        return None
    try:
        rate = int(text)
    except ValueError:
        rate = -1
    if rate < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rate: a whole number of requests per second (0 for unlimited) "
            "or 'default'"
        )
    return rate


def _keys_limit(args: argparse.Namespace) -> int:
    rate = args.rate
    changed = with_store(
        settings_of(args), lambda store: store.set_api_key_rate_limit(args.key_id, rate)
    )
    if not changed:
        return fail(f"no key with id {args.key_id}")
    print(f"{args.key_id}: {'the server default' if rate is None else rate} requests/s")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    now_us = int(datetime.datetime.now(datetime.UTC).timestamp() * 1e6)
    revoked = with_store(settings_of(args), lambda store: store.revoke_api_key(args.key_id, now_us))
    if not revoked:
        return fail(f"no active key with id {args.key_id}")
    delay = revocation_delay(settings_of(args).key_cache_seconds)
    print(
        f"revoked {args.key_id}; running servers refuse it within {delay:g} s "
        "(new requests, open streams and the access tokens made from it)"
    )
    return 0


def _tenants_list(args: argparse.Namespace) -> int:
    async def read(store: Store) -> tuple[list[tuple[str, int]], list[ApiKeyRecord]]:
        return await store.list_tenants(), await store.list_api_keys()

    tenants, records = with_store(settings_of(args), read)
    active: dict[str, int] = {}
    for record in records:
        if not record.revoked_at:
            active[record.tenant] = active.get(record.tenant, 0) + 1
    print(f"{'TENANT':<24} {'CREATED (UTC)':<20} ACTIVE KEYS")
    for name, created_at in tenants:
        print(f"{name:<24} {_created(created_at)}  {active.get(name, 0)}")
    if not tenants:
        print("(none yet: `sluice keys create --tenant NAME` makes one)", file=sys.stderr)
    return 0


def add_commands(commands: Any) -> None:
    keys = commands.add_parser(
        "keys", help="manage API keys", formatter_class=Formatter
    ).add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    create = keys.add_parser(
        "create",
        help="mint a key (and its tenant, if new); prints the key as the last line",
        formatter_class=Formatter,
    )
    create.add_argument(
        "--tenant", required=True, help="the key's tenant; created if it does not exist"
    )
    create.add_argument(
        "--rate-limit",
        type=int,
        help="requests per second for this key (0 = unlimited; "
        "default: the server's SLUICE_RATE_LIMIT)",
    )
    store_options(create)
    create.set_defaults(run=_keys_create)
    listing = keys.add_parser(
        "list", help="list keys (never their secrets)", formatter_class=Formatter
    )
    store_options(listing)
    listing.set_defaults(run=_keys_list)
    revoke = keys.add_parser(
        "revoke",
        help="revoke a key by its id; running servers refuse it within a few seconds",
        formatter_class=Formatter,
    )
    revoke.add_argument("key_id", help="the KEY ID column of `sluice keys list`")
    store_options(revoke)
    revoke.set_defaults(run=_keys_revoke)
    limit = keys.add_parser(
        "limit", help="set a key's requests per second", formatter_class=Formatter
    )
    limit.add_argument("key_id", help="the KEY ID column of `sluice keys list`")
    limit.add_argument(
        "rate", type=_rate, help="requests per second, 0 for unlimited, or 'default'"
    )
    store_options(limit)
    limit.set_defaults(run=_keys_limit)

    tenants = commands.add_parser(
        "tenants", help="list tenants", formatter_class=Formatter
    ).add_subparsers(dest="tenants_command", required=True, metavar="COMMAND")
    listed = tenants.add_parser(
        "list",
        help="every tenant, when it was made and its active keys",
        formatter_class=Formatter,
    )
    store_options(listed)
    listed.set_defaults(run=_tenants_list)
