"""The PostgreSQL store's schema: versioned migrations, applied at start-up by whichever
instance gets there first (the others wait on an advisory lock, then find nothing to do)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

# Each entry is version i + 1. Append only: an applied migration is never edited.
MIGRATIONS = [
    # Same tables as the SQLite store, with PostgreSQL types. Payloads, aliases and attributes
    # are JSON *text*, not jsonb: jsonb would reorder keys and change what reads give back.
    """
    CREATE TABLE tenants (
        name text PRIMARY KEY,
        created_at bigint NOT NULL
    );
    CREATE TABLE api_keys (
        key_id text PRIMARY KEY,
        tenant text NOT NULL REFERENCES tenants (name),
        secret_hash bytea NOT NULL,
        created_at bigint NOT NULL,
        revoked_at bigint,
        rate_limit integer
    );
    CREATE TABLE events (
        -- Handed out under the log lock (postgres.py), so offset order is commit order.
        log_offset bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text NOT NULL,
        id text NOT NULL,
        source text NOT NULL,
        name text NOT NULL,
        customer text NOT NULL,
        timestamp bigint NOT NULL,
        value double precision,
        payload text NOT NULL,
        received_at bigint NOT NULL,
        deleted_at bigint,
        key_hash bytea NOT NULL,
        content_hash bytea NOT NULL,
        UNIQUE (tenant, name, id)  -- the idempotency authority, across every instance
    );
    CREATE INDEX events_by_tenant_offset ON events (tenant, log_offset);
    CREATE INDEX events_by_tenant_time ON events (tenant, timestamp, log_offset);
    CREATE INDEX events_by_tenant_id ON events (tenant, id);
    CREATE TABLE customers (
        tenant text NOT NULL,
        id text COLLATE "C" NOT NULL,  -- listed by code point, as SQLite orders them
        email text,
        email_key text,
        aliases text NOT NULL,
        attributes text NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE UNIQUE INDEX customers_by_email ON customers (tenant, email_key)
        WHERE email_key IS NOT NULL;
    CREATE TABLE customer_aliases (
        tenant text NOT NULL,
        alias text NOT NULL,
        customer_id text NOT NULL,
        PRIMARY KEY (tenant, alias)
    );
    """,
    # The transactional outbox: the offsets of accepted events not yet published to NATS,
    # written in the same transaction as the events (publishing.py relays and deletes them).
    """
    CREATE TABLE outbox (
        log_offset bigint PRIMARY KEY REFERENCES events (log_offset)
    );
    """,
    # One unique index (tenant, id, name) is both the idempotency authority and, by its
    # prefix, the lookup by ref alone: one b-tree fewer to write per event (as the SQLite
    # store's schema 5). ON CONFLICT infers it from the column set.
    """
    CREATE UNIQUE INDEX events_by_tenant_id_name ON events (tenant, id, name);
    ALTER TABLE events DROP CONSTRAINT events_tenant_name_id_key;
    DROP INDEX events_by_tenant_id;
    """,
    # Offsets per tenant (docs/contracts.md §1): the identity column becomes `seq` (never shown;
    # it keys the outbox and orders it oldest first across tenants), and `log_offset` the
    # tenant's own log position, unique per tenant. Stored events keep the offsets they were
    # given, so every position a consumer holds still names the same event; the writer numbers
    # each tenant's new events from its highest offset on, gap-free (docs/decisions.md,
    # "Offsets per tenant").
    """
    ALTER TABLE events RENAME COLUMN log_offset TO seq;
    ALTER TABLE outbox RENAME COLUMN log_offset TO seq;
    ALTER TABLE events ADD COLUMN log_offset bigint;
    UPDATE events SET log_offset = seq;
    ALTER TABLE events ALTER COLUMN log_offset SET NOT NULL;
    DROP INDEX events_by_tenant_offset;
    DROP INDEX events_by_tenant_time;
    CREATE UNIQUE INDEX events_by_tenant_offset ON events (tenant, log_offset);
    CREATE INDEX events_by_tenant_time ON events (tenant, timestamp, log_offset);
    """,
    # Metering (as the SQLite store's schema 6). customer ids are COLLATE "C" elsewhere;
    # meters and measurements list by id the same way.
    """
    CREATE TABLE meters (
        tenant text NOT NULL,
        id text COLLATE "C" NOT NULL,
        event_name text NOT NULL,
        document text NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX meters_by_event ON meters (tenant, event_name);
    CREATE TABLE measurements (
        tenant text NOT NULL,
        id text COLLATE "C" NOT NULL,
        customer_id text NOT NULL,
        meter_id text NOT NULL,
        day bigint NOT NULL,
        value double precision NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX measurements_by_customer ON measurements (tenant, customer_id, day);
    CREATE INDEX events_by_customer ON events (tenant, customer, name, timestamp);
    """,
    # Refused events kept for lookup (rejections.py), newest first by `seq`, pruned per tenant
    # by count and age; and per-tenant totals of every refusal, the counted-only ones included.
    """
    CREATE TABLE rejections (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text NOT NULL,
        at bigint NOT NULL,
        request_id text NOT NULL,
        source text NOT NULL,
        name text NOT NULL,
        reason text NOT NULL,
        field text NOT NULL,
        message text NOT NULL,
        event text NOT NULL
    );
    CREATE INDEX rejections_by_tenant ON rejections (tenant, seq);
    CREATE INDEX rejections_by_tenant_time ON rejections (tenant, at);
    CREATE TABLE rejection_counts (
        tenant text NOT NULL,
        source text NOT NULL,
        reason text NOT NULL,
        total bigint NOT NULL,
        PRIMARY KEY (tenant, source, reason)
    );
    """,
]

# An advisory lock key (SQL, one parameter: the lock's class) that is a class in the high 32
# bits, clear of other applications' small integers, and this schema's hash in the low bits:
# one database may hold several Sluice schemas, and their locks must not meet.
MIGRATION_LOCK_CLASS = 0x51CE0001
LOCK_KEY = "(%s::bigint << 32) | (hashtext(current_schema()) & x'7fffffff'::int)::bigint"


async def migrate(conn: AsyncConnection[Any]) -> list[int]:
    """Apply every migration not yet recorded, in one transaction; the versions applied."""
    async with conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock({LOCK_KEY})", [MIGRATION_LOCK_CLASS])
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = await conn.execute("SELECT version FROM schema_migrations")
        done = {version for (version,) in await cursor.fetchall()}
        applied = []
        for version, script in enumerate(MIGRATIONS, start=1):
            if version in done:
                continue
            await conn.execute(script)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", [version])
            applied.append(version)
        return applied
