"""What every `sluice` subcommand shares: the store options, settings, opening the store,
the help format and how a mistake is reported."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sluice import startup
from sluice.settings import Settings
from sluice.storage import Store

T = TypeVar("T")
DEFAULTS = Settings()


class Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, where there is one to show (options whose
    default comes from the environment spell it out in their help)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


class UsageError(Exception):
    """A command given something it cannot work with (an unknown tenant, say): exit 1."""


def store_options(parser: argparse.ArgumentParser) -> None:
    """--data-dir and --store, which every subcommand takes, and --debug."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        help=f"data directory: the SQLite store and the token secret (env SLUICE_DATA_DIR; "
        f"default ./{DEFAULTS.data_dir})",
    )
    parser.add_argument(
        "--store",
        help="store URL, sqlite:///PATH or postgresql://... (env SLUICE_STORE; "
        "default: SQLite in the data directory)",
    )
    debug_option(parser, argparse.SUPPRESS)


def debug_option(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show the traceback of an error instead of one line",
    )


def settings_of(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides = {
        name: getattr(args, name)
        for name in ("host", "http_port", "grpc_port", "data_dir", "store")
        if getattr(args, name, None) is not None
    }
    return dataclasses.replace(settings, **overrides)


def with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the settings' store, run work on it, close it."""

    async def run() -> T:
        store = startup.store_for(settings)
        await startup.open_checked(settings, store)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


async def known_tenant(store: Store, tenant: str, create: bool, now_us: int) -> None:
    """Raise UsageError for a tenant the store does not know, unless create (then make it)."""
    if tenant in {name for name, _created in await store.list_tenants()}:
        return
    if not create:
        raise UsageError(
            f"no tenant {tenant!r} (`sluice tenants list` shows them; "
            "--create-tenant makes a new one)"
        )
    await store.ensure_tenant(tenant, now_us)


def plural(count: int, noun: str) -> str:
    """`1 customer`, `2,000 customers`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def fail(message: str, code: int = 1) -> int:
    print(f"sluice: {message}", file=sys.stderr)
    return code
