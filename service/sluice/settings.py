"""Runtime configuration: defaults, `SLUICE_*` environment variables, and CLI flags."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sluice._core import Limits
from sluice.errors import ConfigurationError
from sluice.profiles import DEFAULT_BOT_PATTERN

ENV_PREFIX = "SLUICE_"
T = TypeVar("T")


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def _read(name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
    """SLUICE_<name> parsed, or default when unset; a value that does not parse is the
    operator's mistake, named with the variable (ConfigurationError), not a traceback."""
    text = os.environ.get(ENV_PREFIX + name)
    if text is None:
        return default
    try:
        return parse(text.strip())
    except ValueError:
        raise ConfigurationError(f"{ENV_PREFIX}{name}={text!r}: expected {expected}") from None


def _whole(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535; also the CLI's type for --http-port/--grpc-port."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"{text} is not a port (0-65535)")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise ValueError(text)
    return value


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in LOG_LEVELS:
        raise ValueError(text)
    return level


def _synchronous(text: str) -> str:
    mode = text.upper()
    if mode not in ("FULL", "NORMAL"):
        raise ValueError(text)
    return mode


def _flag(text: str) -> bool:
    """on/off, true/false, yes/no, 1/0 (any case)."""
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"expected on or off, got {text!r}")


def _allow_lists(text: str) -> dict[str, tuple[str, ...]]:
    """`{"tenant": ["type", ...]}` as JSON (SLUICE_COLLECT_EVENT_TYPES)."""
    if not text:
        return {}
    parsed = json.loads(text)
    if not isinstance(parsed, dict) or not all(isinstance(t, list) for t in parsed.values()):
        raise ValueError(text)
    return {str(tenant): tuple(str(t) for t in types) for tenant, types in parsed.items()}


WHOLE = "a whole number >= 0"
SECONDS = "a number of seconds >= 0"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    http_port: int = 8080
    grpc_port: int = 50051
    data_dir: Path = Path("./sluice-data")
    # A store URL (`sqlite:///path/to/file.db` or `postgresql://…`); empty means SQLite under
    # data_dir. Several instances share one PostgreSQL store.
    store: str = ""
    # Scale-out engines, each optional; empty means not used. Redis: per-key rate limits shared
    # by every instance (ratelimit_redis.py). NATS: every accepted event published to a
    # JetStream stream through the store's outbox (publishing.py; needs the PostgreSQL store).
    redis_url: str = ""
    nats_url: str = ""
    nats_stream: str = "SLUICE"
    nats_subject_prefix: str = "sluice"
    max_body_bytes: int = 262_144
    max_events: int = 1000
    max_depth: int = 64
    max_future_seconds: int = 3600
    log_level: str = "INFO"
    # grpc's own loggers (its event loop's DEBUG lines flood ours); WARNING unless asked.
    grpc_log_level: str = "WARNING"
    # The gRPC transport refuses larger messages (RESOURCE_EXHAUSTED) before reading them in;
    # below it, the core's own max_body_bytes check answers INVALID_ARGUMENT with details.
    # 0: four times max_body_bytes (room for a client's own framing, never the 4 MiB default).
    grpc_max_message_bytes: int = 0
    # gRPC connection bounds. A socket that has not finished the HTTP/2 handshake (sent its
    # preface and settings) within the timeout is closed; past max_connections new ones are
    # refused; every connection is told to go away (GOAWAY) after max_connection_age and closed
    # after the grace, which ends any abuse of one connection (a rapid-reset flood) and lets
    # clients rebalance. Subscribe consumers resume from their last offset, as after a restart.
    grpc_handshake_timeout_seconds: float = 10.0
    grpc_max_connections: int = 4096
    grpc_max_connection_age_seconds: float = 600.0
    grpc_max_connection_age_grace_seconds: float = 60.0
    # A request's headers must arrive within this many seconds, its body within the other.
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    # How long a verified API key stays cached before it is looked up again (revocation lag).
    key_cache_seconds: float = 5.0
    # Requests per second per API key unless the key has its own limit; 0 = unlimited.
    rate_limit: int = 1000
    # Requests that may wait on the store at once (admission.py); past it, 503 + Retry-After.
    # Each holds one body (max_body_bytes) and its parsed events: ~1.1 MiB for a full batch.
    store_queue_limit: int = 128
    # The most of store_queue_limit one tenant may hold, so a flood leaves room for others.
    tenant_queue_share: float = 0.5
    # Signs Vayu access tokens. Empty: a secret made once and kept in data_dir/jwt-secret.
    # Several instances behind one load balancer must share one configured secret.
    jwt_secret: str = ""
    # Profiles API: user agents matching this (case-insensitive) are discarded as bots.
    bot_user_agents: str = DEFAULT_BOT_PATTERN
    email_open_window_seconds: int = 20 * 60
    # Collect API: per-tenant allow-lists of event types; a tenant absent here allows any.
    collect_event_types: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Durability of the SQLite store. FULL (the default, and the only production setting)
    # fsyncs the WAL on every commit, so an accepted event survives power loss. NORMAL syncs
    # only at checkpoints: the last commits before an OS crash or power loss may be lost.
    sqlite_synchronous: str = "FULL"
    # Group commit (the default): requests arriving while a transaction commits share the next
    # one, so N requests cost one fsync. Off: one transaction per request. NORMAL and off exist
    # to measure what durability costs (bench/bench_durability.py); `serve` warns about them.
    group_commit: bool = True

    @classmethod
    def from_env(cls) -> Settings:
        c = cls
        return cls(
            host=_env("HOST", c.host),
            http_port=_read("HTTP_PORT", c.http_port, port, "a port, 0-65535"),
            grpc_port=_read("GRPC_PORT", c.grpc_port, port, "a port, 0-65535"),
            data_dir=Path(_env("DATA_DIR", str(c.data_dir))),
            store=_env("STORE", c.store),
            redis_url=_env("REDIS_URL", c.redis_url),
            nats_url=_env("NATS_URL", c.nats_url),
            nats_stream=_env("NATS_STREAM", c.nats_stream),
            nats_subject_prefix=_env("NATS_SUBJECT_PREFIX", c.nats_subject_prefix),
            max_body_bytes=_read("MAX_BODY_BYTES", c.max_body_bytes, _whole, WHOLE),
            max_events=_read("MAX_EVENTS", c.max_events, _whole, WHOLE),
            max_future_seconds=_read("MAX_FUTURE_SECONDS", c.max_future_seconds, _whole, WHOLE),
            grpc_max_message_bytes=_read(
                "GRPC_MAX_MESSAGE_BYTES", c.grpc_max_message_bytes, _whole, WHOLE
            ),
            grpc_handshake_timeout_seconds=_read(
                "GRPC_HANDSHAKE_TIMEOUT_SECONDS",
                c.grpc_handshake_timeout_seconds,
                _seconds,
                SECONDS,
            ),
            grpc_max_connections=_read(
                "GRPC_MAX_CONNECTIONS", c.grpc_max_connections, _whole, WHOLE
            ),
            grpc_max_connection_age_seconds=_read(
                "GRPC_MAX_CONNECTION_AGE_SECONDS",
                c.grpc_max_connection_age_seconds,
                _seconds,
                SECONDS,
            ),
            grpc_max_connection_age_grace_seconds=_read(
                "GRPC_MAX_CONNECTION_AGE_GRACE_SECONDS",
                c.grpc_max_connection_age_grace_seconds,
                _seconds,
                SECONDS,
            ),
            jwt_secret=_env("JWT_SECRET", c.jwt_secret),
            log_level=_read(
                "LOG_LEVEL", c.log_level, _log_level, "one of " + ", ".join(LOG_LEVELS)
            ),
            grpc_log_level=_read(
                "GRPC_LOG_LEVEL", c.grpc_log_level, _log_level, "one of " + ", ".join(LOG_LEVELS)
            ),
            header_timeout_seconds=_read(
                "HEADER_TIMEOUT_SECONDS", c.header_timeout_seconds, _seconds, SECONDS
            ),
            body_timeout_seconds=_read(
                "BODY_TIMEOUT_SECONDS", c.body_timeout_seconds, _seconds, SECONDS
            ),
            rate_limit=_read("RATE_LIMIT", c.rate_limit, _whole, WHOLE),
            store_queue_limit=_read(
                "STORE_QUEUE_LIMIT", c.store_queue_limit, _positive, "a whole number >= 1"
            ),
            tenant_queue_share=_read(
                "TENANT_QUEUE_SHARE", c.tenant_queue_share, _share, "a fraction in (0, 1]"
            ),
            bot_user_agents=_env("BOT_USER_AGENTS", c.bot_user_agents),
            email_open_window_seconds=_read(
                "EMAIL_OPEN_WINDOW_SECONDS", c.email_open_window_seconds, _whole, WHOLE
            ),
            collect_event_types=_read(
                "COLLECT_EVENT_TYPES", {}, _allow_lists, 'JSON like {"tenant": ["type"]}'
            ),
            sqlite_synchronous=_read(
                "SQLITE_SYNCHRONOUS", c.sqlite_synchronous, _synchronous, "FULL or NORMAL"
            ),
            group_commit=_read("GROUP_COMMIT", c.group_commit, _flag, "on or off"),
        )

    def durability_warnings(self) -> list[str]:
        """What `serve` prints at start-up when durability is below the default."""
        warnings = []
        if self.sqlite_synchronous != "FULL":
            warnings.append(
                f"SLUICE_SQLITE_SYNCHRONOUS={self.sqlite_synchronous}: accepted events may be "
                "lost on an OS crash or power loss (for benchmarks only; the default is FULL)"
            )
        if not self.group_commit:
            warnings.append(
                "SLUICE_GROUP_COMMIT=off: one transaction and fsync per request (for benchmarks "
                "only; the default is on)"
            )
        return warnings

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{self.data_dir / 'sluice.db'}"

    @property
    def grpc_message_limit(self) -> int:
        """The largest gRPC message the transport takes in or sends, in bytes."""
        return self.grpc_max_message_bytes or 4 * self.max_body_bytes

    def limits(self) -> Limits:
        return Limits(
            max_body_bytes=self.max_body_bytes,
            max_events=self.max_events,
            max_depth=self.max_depth,
            max_future_us=self.max_future_seconds * 1_000_000,
        )
