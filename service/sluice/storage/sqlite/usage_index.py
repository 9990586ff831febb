"""The SQLite store's usage index: a customer's events of some names in a time range, kept off
the appends' path.

An index on events (tenant, customer, name, timestamp) kept by every append puts each event of
a 1000-event commit on a different leaf page (customers arrive in no order), so every commit
rewrites about a page per event into the WAL: the most expensive thing an append did
(bench/bench_store.py measures it).

`usage_index` holds the same keys, but the writer thread fills it after commits, in batches of
at least PROJECT_ROWS events (or whatever is waiting once the writer is idle), sorted in the
index's order: a batch writes each touched page once for all of its events that land there (a
customer's events of a batch share their page), instead of once per commit. A read is the same
range scan per customer and name the inline index gave, plus a scan by rowid of the events
not projected yet (seq past the projection's mark), both in one snapshot: exact at every
moment, including the caller's own writes of a moment ago. The index rows and the mark move in
one transaction and the index holds nothing the events table does not, so a crash leaves it
consistent, and a failed projection only leaves more of the tail to scan until the next one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sluice.model import StoredEvent
from sluice.storage.event_sql import EVENT_COLUMNS

# Project once this many events are waiting: a read scans at most about this many (plus one
# commit's) unprojected rows, and a batch this size shares each touched page among many rows.
PROJECT_ROWS = 4096
# Project when the writer has had nothing to do for this long, so a quiet store's tail is empty.
IDLE_SECONDS = 0.2
# At most this many events a projection transaction: a backlog (the index built for a store
# that predates it) is caught up in steps that keep the writer's queue waiting only briefly.
PROJECT_LIMIT = 65_536

# In the index's key order, so the inserts walk its pages forward.
_PROJECT = """
    INSERT INTO usage_index (tenant, customer, name, timestamp, seq)
    SELECT tenant, customer, name, timestamp, seq FROM events
    WHERE seq > ? AND seq <= ?
    ORDER BY tenant, customer, name, timestamp, seq
"""
_MARK = "SELECT seq FROM projections WHERE name = 'usage'"
_EVENT_COLUMNS_OF_E = ", ".join(f"e.{column.strip()}" for column in EVENT_COLUMNS.split(","))


def project(conn: sqlite3.Connection, limit: int = PROJECT_LIMIT) -> int:
    """Project up to `limit` events past the mark into usage_index (inside the caller's write
    transaction); how many events are still waiting after it.

    Rows are never removed from `events` (deletes are soft), so a new row's seq is always past
    every seq already projected: the mark alone says what is covered."""
    mark = projected_through(conn)
    high = int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
    upto = min(high, mark + limit)
    if upto > mark:
        conn.execute(_PROJECT, (mark, upto))
        conn.execute("UPDATE projections SET seq = ? WHERE name = 'usage'", (upto,))
    return high - upto


def projected_through(conn: sqlite3.Connection) -> int:
    """The highest seq the index covers (every event up to it is projected)."""
    return int(conn.execute(_MARK).fetchone()[0])


def usage_events(
    conn: sqlite3.Connection,
    tenant: str,
    customers: Sequence[str],
    names: Sequence[str],
    start: int | None,
    end: int | None,
) -> list[StoredEvent]:
    """A tenant's live events of these customers and names in [start, end): the projected part
    by a range scan of the index per customer and name, the rest by a scan of the unprojected
    tail. Call it inside a read transaction, so the mark, the index and the tail are one
    snapshot."""
    mark = projected_through(conn)
    matches, params = _matches(customers, names, start, end)
    # CROSS JOIN fixes the order: the index's ranges first, then each event by its rowid.
    indexed = (
        f"SELECT {_EVENT_COLUMNS_OF_E} FROM usage_index AS u CROSS JOIN events AS e "
        f"WHERE u.tenant = ? AND {matches.format(t='u')} "
        "AND e.seq = u.seq AND e.deleted_at IS NULL"
    )
    events = [StoredEvent(*row) for row in conn.execute(indexed, [tenant, *params])]
    # NOT INDEXED: the rowid range is the short part; any index on tenant would be a long one.
    tail = (
        f"SELECT {EVENT_COLUMNS} FROM events AS e NOT INDEXED "
        f"WHERE e.seq > ? AND e.tenant = ? AND {matches.format(t='e')} AND e.deleted_at IS NULL"
    )
    events += [StoredEvent(*row) for row in conn.execute(tail, [mark, tenant, *params])]
    return events


def _matches(
    customers: Sequence[str], names: Sequence[str], start: int | None, end: int | None
) -> tuple[str, list[Any]]:
    """The customer, name and time conditions over table alias {t}, and their parameters."""
    sql = (
        f"{{t}}.customer IN ({', '.join('?' * len(customers))}) "
        f"AND {{t}}.name IN ({', '.join('?' * len(names))})"
    )
    params: list[Any] = [*customers, *names]
    if start is not None:
        sql += " AND {t}.timestamp >= ?"
        params.append(start)
    if end is not None:
        sql += " AND {t}.timestamp < ?"
        params.append(end)
    return sql, params
