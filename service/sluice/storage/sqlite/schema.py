"""The SQLite store's schema: migrations numbered by PRAGMA user_version, applied at open."""

from __future__ import annotations

import sqlite3

# Each entry moves the schema from version i to i + 1 (PRAGMA user_version). Append only.
MIGRATIONS = [
    """
    CREATE TABLE tenants (
        name TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL REFERENCES tenants (name),
        secret_hash BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    ) STRICT;
    CREATE TABLE events (
        log_offset INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: offsets never reused
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        customer TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        value REAL,
        payload TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        deleted_at INTEGER,
        key_hash BLOB NOT NULL,
        content_hash BLOB NOT NULL,
        UNIQUE (tenant, name, id)  -- the authoritative idempotency check
    ) STRICT;
    CREATE INDEX events_by_tenant_offset ON events (tenant, log_offset);
    """,
    # Reads by time range (Vayu GET /events) and by ref alone (refs repeat across names).
    """
    CREATE INDEX events_by_tenant_time ON events (tenant, timestamp, log_offset);
    CREATE INDEX events_by_tenant_id ON events (tenant, id);
    """,
    # The customer registry (customers.py). `aliases` keeps each customer's list as
    # given, `customer_aliases` indexes it so an alias names one customer of its tenant, and
    # `email_key` (the casefolded email) makes emails unique per tenant whatever their case.
    """
    CREATE TABLE customers (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        email TEXT,
        email_key TEXT,
        aliases TEXT NOT NULL,
        attributes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, id)
    ) STRICT;
    CREATE UNIQUE INDEX customers_by_email ON customers (tenant, email_key)
        WHERE email_key IS NOT NULL;
    CREATE TABLE customer_aliases (
        tenant TEXT NOT NULL,
        alias TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        PRIMARY KEY (tenant, alias)
    ) STRICT, WITHOUT ROWID;
    """,
    # Per-key request rate (NULL: the server default, 0: unlimited).
    """
    ALTER TABLE api_keys ADD COLUMN rate_limit INTEGER;
    """,
    # Fewer b-trees per stored event (bench/bench_http.py measures the store alone): one
    # unique index (tenant, id, name) is both the idempotency check and, by its prefix, the
    # lookup by ref alone; and no AUTOINCREMENT, whose sqlite_sequence row was rewritten on
    # every insert. Offsets are still never reused: rows are never removed (deletes are
    # soft), so max(log_offset) + 1 only grows.
    """
    CREATE TABLE events_v5 (
        log_offset INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        customer TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        value REAL,
        payload TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        deleted_at INTEGER,
        key_hash BLOB NOT NULL,
        content_hash BLOB NOT NULL,
        UNIQUE (tenant, id, name)
    ) STRICT;
    INSERT INTO events_v5
        SELECT log_offset, tenant, id, source, name, customer, timestamp, value, payload,
               received_at, deleted_at, key_hash, content_hash
        FROM events ORDER BY log_offset;
    DROP TABLE events;
    ALTER TABLE events_v5 RENAME TO events;
    CREATE INDEX events_by_tenant_offset ON events (tenant, log_offset);
    CREATE INDEX events_by_tenant_time ON events (tenant, timestamp, log_offset);
    """,
    # Offsets per tenant (docs/contracts.md §1): `log_offset` becomes the tenant's own log
    # position, unique per tenant, and the rowid (`seq`, never shown) only places the row in
    # the file. Stored events keep the offsets they were given, so every position a consumer
    # holds (Subscribe offsets, Vayu ids, cursors, Sluice-Offset) still names the same event;
    # the writer numbers each tenant's new events from its highest offset on, gap-free
    # (docs/decisions.md, "Offsets per tenant").
    """
    CREATE TABLE events_v6 (
        seq INTEGER PRIMARY KEY,
        log_offset INTEGER NOT NULL,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        customer TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        value REAL,
        payload TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        deleted_at INTEGER,
        key_hash BLOB NOT NULL,
        content_hash BLOB NOT NULL,
        UNIQUE (tenant, id, name)
    ) STRICT;
    INSERT INTO events_v6
        SELECT log_offset, log_offset, tenant, id, source, name, customer, timestamp, value,
               payload, received_at, deleted_at, key_hash, content_hash
        FROM events ORDER BY log_offset;
    DROP TABLE events;
    ALTER TABLE events_v6 RENAME TO events;
    CREATE UNIQUE INDEX events_by_tenant_offset ON events (tenant, log_offset);
    CREATE INDEX events_by_tenant_time ON events (tenant, timestamp, log_offset);
    """,
    # Metering: meters and measurements (Vayu's documents), and usage's one index: a
    # customer's events of one name in a time range are one range scan.
    """
    CREATE TABLE meters (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        event_name TEXT NOT NULL,
        document TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, id)
    ) STRICT;
    CREATE INDEX meters_by_event ON meters (tenant, event_name);
    CREATE TABLE measurements (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        meter_id TEXT NOT NULL,
        day INTEGER NOT NULL,
        value REAL NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, id)
    ) STRICT;
    CREATE INDEX measurements_by_customer ON measurements (tenant, customer_id, day);
    CREATE INDEX events_by_customer ON events (tenant, customer, name, timestamp);
    """,
    # Refused events kept for lookup (rejections.py), newest first by `seq`, pruned per tenant
    # by count and age; and per-tenant totals of every refusal, the counted-only ones included.
    """
    CREATE TABLE rejections (
        seq INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        at INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        source TEXT NOT NULL,
        name TEXT NOT NULL,
        reason TEXT NOT NULL,
        field TEXT NOT NULL,
        message TEXT NOT NULL,
        event TEXT NOT NULL
    ) STRICT;
    CREATE INDEX rejections_by_tenant ON rejections (tenant, seq);
    CREATE INDEX rejections_by_tenant_time ON rejections (tenant, at);
    CREATE TABLE rejection_counts (
        tenant TEXT NOT NULL,
        source TEXT NOT NULL,
        reason TEXT NOT NULL,
        total INTEGER NOT NULL,
        PRIMARY KEY (tenant, source, reason)
    ) STRICT, WITHOUT ROWID;
    """,
    # Usage reads move from an index every append paid for to a projection built after commit
    # (usage_index.py). The mark starts at 0: the writer projects existing events in steps
    # after start-up (reads are exact meanwhile, by scanning what is not projected yet), so an
    # upgrade does not hold up the first start.
    """
    CREATE TABLE usage_index (
        tenant TEXT NOT NULL,
        customer TEXT NOT NULL,
        name TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (tenant, customer, name, timestamp, seq)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE projections (
        name TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    ) STRICT;
    INSERT INTO projections (name, seq) VALUES ('usage', 0);
    DROP INDEX events_by_customer;
    """,
]


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations past the file's user_version (inside the caller's transaction)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
