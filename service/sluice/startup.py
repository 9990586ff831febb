"""What a process checks before it works: its data directory and its store. Each mistake an
operator can make there becomes one ConfigurationError naming the setting and the cause."""

from __future__ import annotations

import errno
import gc
import os
import tempfile
import urllib.parse
from pathlib import Path

from sluice import datadir
from sluice.errors import ConfigurationError, StoreUnavailable
from sluice.settings import Settings
from sluice.storage import Store, open_store


def prepare_data_dir(settings: Settings) -> list[Path]:
    """Create the data directory (private to its owner) and prove it writable; returns the
    paths whose modes were tightened."""
    where = settings.data_dir
    if where.exists() and not where.is_dir():
        raise ConfigurationError(
            f"data directory {str(where)!r} is a file, not a directory "
            "(choose another with --data-dir or SLUICE_DATA_DIR)"
        )
    try:
        tightened = datadir.prepare(where)
        # A directory can exist and still refuse files (read-only mount, someone else's).
        with tempfile.NamedTemporaryFile(dir=where, prefix=".write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigurationError(
            f"data directory {str(where)!r} is not usable: {reason} "
            "(choose another with --data-dir or SLUICE_DATA_DIR)"
        ) from exc
    return tightened


def store_description(settings: Settings) -> str:
    """Where the data goes, for the start-up output: the SQLite file, or the store URL
    without its password."""
    if not settings.store:
        return f"SQLite at {os.path.abspath(settings.data_dir / 'sluice.db')}"
    parts = urllib.parse.urlsplit(settings.store)
    if parts.password is not None:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return settings.store


def store_for(settings: Settings, *, outbox: bool = False) -> Store:
    """The store the settings name (not yet opened); a URL of no known kind, or a driver that
    is not installed, is a ConfigurationError."""
    try:
        return open_store(
            settings.store_url,
            outbox=outbox,
            synchronous=settings.sqlite_synchronous,
            group_commit=settings.group_commit,
        )
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    except ImportError as exc:
        raise ConfigurationError(
            f"the store {store_description(settings)} needs a driver that is not installed "
            f"({exc.name}): pip install 'sluice[postgres]'"
        ) from exc


def unopenable(settings: Settings, exc: Exception) -> ConfigurationError:
    """Why the store could not be opened at start-up, as one line."""
    cause = " ".join(str(exc).split())  # libpq's hints come on lines of their own
    return ConfigurationError(f"cannot open the store {store_description(settings)}: {cause}")


async def open_checked(settings: Settings, store: Store) -> None:
    """store.open(), with an unreachable store (refused, unknown host, bad credentials) or an
    unwritable SQLite file reported as a ConfigurationError."""
    try:
        await store.open()
    except (StoreUnavailable, OSError) as exc:
        raise unopenable(settings, exc) from exc


def listen_error(what: str, flag: str, host: str, port: int, exc: OSError) -> ConfigurationError:
    """A port that cannot be bound: in use, privileged, or an address this host does not have."""
    reason = exc.strerror or str(exc)
    hint = f"choose another with {flag}"
    if exc.errno == errno.EADDRINUSE:
        hint = f"another process (a second sluice?) holds it; stop it or {hint}"
    return ConfigurationError(f"cannot listen for {what} on {host}:{port}: {reason} ({hint})")


# Allocations between two young-generation collections once serving (CPython's default is 700).
# Each request allocates a few thousand objects, so at the default the collector runs every
# request or so, and a collection walks every young object; measured under load (docs/
# decisions.md, "The collector once serving") the default cost ~10% of requests per second.
YOUNG_COLLECTION_THRESHOLD = 100_000


def settle_collector() -> None:
    """Once started: collect what start-up left, move every object alive now (modules, the
    app, the store, caches) out of the collector's sight for good (gc.freeze), and collect the
    young generation less often. Cycles made while serving are still collected."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)
