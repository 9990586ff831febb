"""The SQLite store's usage index: a customer's events of some names in a time range, found
without an index on `events` that every append pays for.

An index on events (tenant, customer, name, timestamp) puts each event of a 1000-event commit
on a different leaf page (customers arrive in no order), so every commit rewrites about one
page per event into the WAL: the append cost grows with the store, until that one index costs
more than everything else an append does (bench/bench_store.py measures it).

`usage_index` is instead a projection of `events` that the writer thread builds after commits,
in batches of at least PROJECT_ROWS rows (or whatever is pending once the writer is idle), and
keyed (tenant, bucket, customer, name, timestamp, seq) with bucket = seq >> BUCKET_SHIFT: a
batch's rows land inside the one or two newest buckets' key ranges, which stay small, so a
batch writes few pages however large the store grows.

`usage_buckets` keeps each bucket's range of event timestamps, so a read seeks only the buckets
that can hold its period (live traffic fills buckets in time order: a month's read skips the
other months' buckets), then scans the rows not projected yet (seq past the projection's mark)
by rowid, both in one snapshot: exact at every moment, including the
caller's own writes of a moment ago. The index rows and the mark move in one transaction, and
the index holds nothing the events table does not, so a crash leaves it consistent, and a
failed projection only leaves more of the tail to scan until the next one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sluice.model import StoredEvent
from sluice.storage.event_sql import EVENT_COLUMNS

# 65,536 events a bucket: a 10M-event store has ~150 buckets, so a usage read makes ~150 index
# seeks (well under a millisecond), while the newest bucket's range stays a few hundred pages.
BUCKET_SHIFT = 16
# Project once this many events are waiting: the read scans at most about this many (plus one
# commit's) unprojected rows, and a batch this size writes each touched page once for many rows.
PROJECT_ROWS = 4096
# Project when the writer has had nothing to do for this long, so a quiet store's tail is empty.
IDLE_SECONDS = 0.2
# At most this many events a projection transaction: a backlog (the index built for a store
# that predates it) is caught up in steps that keep the writer's queue waiting only briefly.
PROJECT_LIMIT = 65_536

# In the index's key order, so the inserts walk its pages forward.
_PROJECT = """
    INSERT INTO usage_index (tenant, bucket, customer, name, timestamp, seq)
    SELECT tenant, seq >> ?, customer, name, timestamp, seq FROM events
    WHERE seq > ? AND seq <= ?
    ORDER BY 1, 2, 3, 4, 5, 6
"""
# Each bucket's timestamps, widened by what a batch brings (a backfill widens its bucket).
_SPAN = """
    INSERT INTO usage_buckets (tenant, bucket, min_timestamp, max_timestamp)
    SELECT tenant, seq >> ?, min(timestamp), max(timestamp) FROM events
    WHERE seq > ? AND seq <= ?
    GROUP BY 1, 2
    ON CONFLICT (tenant, bucket) DO UPDATE SET
        min_timestamp = min(min_timestamp, excluded.min_timestamp),
        max_timestamp = max(max_timestamp, excluded.max_timestamp)
"""
_MARK = "SELECT seq FROM projections WHERE name = 'usage'"
_EVENT_COLUMNS_OF_E = ", ".join(f"e.{column.strip()}" for column in EVENT_COLUMNS.split(","))


def project(
    conn: sqlite3.Connection, limit: int = PROJECT_LIMIT, *, shift: int = BUCKET_SHIFT
) -> int:
    """Project up to `limit` events past the mark into usage_index (inside the caller's write
    transaction); how many events are still waiting after it.

    Rows are never removed from `events` (deletes are soft), so a new row's seq is always past
    every seq already projected: the mark alone says what is covered."""
    mark = int(conn.execute(_MARK).fetchone()[0])
    high = int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
    upto = min(high, mark + limit)
    if upto > mark:
        conn.execute(_PROJECT, (shift, mark, upto))
        conn.execute(_SPAN, (shift, mark, upto))
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
    *,
    shift: int = BUCKET_SHIFT,
) -> list[StoredEvent]:
    """A tenant's live events of these customers and names in [start, end): the projected part
    by index seeks, the rest by a scan of the unprojected tail. Call it inside a read
    transaction, so the mark, the index and the tail are one snapshot. `shift` must be the one
    the index was projected with (tests use small buckets)."""
    mark = projected_through(conn)
    matches, params = _matches(customers, names, start, end)
    # The buckets whose timestamps can fall in [start, end) drive the join (CROSS JOIN fixes
    # the order): one seek of the primary key per bucket and (customer, name) pair, then the
    # event by its rowid.
    spans, span_params = "", list[int]()
    if start is not None:
        spans += " AND max_timestamp >= ?"
        span_params.append(start)
    if end is not None:
        spans += " AND min_timestamp < ?"
        span_params.append(end)
    sql = (
        f"SELECT {_EVENT_COLUMNS_OF_E} FROM usage_buckets AS b "
        "CROSS JOIN usage_index AS u CROSS JOIN events AS e "
        f"WHERE b.tenant = ?{spans} AND u.tenant = b.tenant AND u.bucket = b.bucket "
        f"AND {matches.format(t='u')} AND e.seq = u.seq AND e.deleted_at IS NULL"
    )
    rows = conn.execute(sql, [tenant, *span_params, *params])
    events = [StoredEvent(*row) for row in rows]
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
