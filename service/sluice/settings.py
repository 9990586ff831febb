"""Runtime configuration: defaults, `SLUICE_*` environment variables, and CLI flags."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sluice._core import Limits
from sluice.profiles import DEFAULT_BOT_PATTERN

ENV_PREFIX = "SLUICE_"


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def _allow_lists(text: str) -> dict[str, tuple[str, ...]]:
    """`{"tenant": ["type", ...]}` as JSON (SLUICE_COLLECT_EVENT_TYPES)."""
    if not text:
        return {}
    parsed = json.loads(text)
    return {str(tenant): tuple(str(t) for t in types) for tenant, types in parsed.items()}


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    http_port: int = 8080
    grpc_port: int = 50051
    data_dir: Path = Path("./sluice-data")
    # A store URL (`sqlite:///path/to/file.db`); empty means SQLite under data_dir.
    store: str = ""
    max_body_bytes: int = 262_144
    max_events: int = 1000
    max_depth: int = 64
    max_future_seconds: int = 3600
    log_level: str = "INFO"
    # The gRPC transport refuses larger messages (RESOURCE_EXHAUSTED) before reading them in;
    # below it, the core's own max_body_bytes check answers INVALID_ARGUMENT with details.
    # 0: four times max_body_bytes (room for a client's own framing, never the 4 MiB default).
    grpc_max_message_bytes: int = 0
    # A request's headers must arrive within this many seconds, its body within the other.
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    # How long a verified API key stays cached before it is looked up again (revocation lag).
    key_cache_seconds: float = 5.0
    # Requests per second per API key unless the key has its own limit; 0 = unlimited.
    rate_limit: int = 1000
    # Requests that may wait on the store at once (admission.py); past it, 503 + Retry-After.
    # Each holds at most one body (max_body_bytes) and its parsed events: ~0.6 MiB at worst.
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

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            host=_env("HOST", cls.host),
            http_port=int(_env("HTTP_PORT", str(cls.http_port))),
            grpc_port=int(_env("GRPC_PORT", str(cls.grpc_port))),
            data_dir=Path(_env("DATA_DIR", str(cls.data_dir))),
            store=_env("STORE", cls.store),
            max_body_bytes=int(_env("MAX_BODY_BYTES", str(cls.max_body_bytes))),
            max_events=int(_env("MAX_EVENTS", str(cls.max_events))),
            max_future_seconds=int(_env("MAX_FUTURE_SECONDS", str(cls.max_future_seconds))),
            grpc_max_message_bytes=int(
                _env("GRPC_MAX_MESSAGE_BYTES", str(cls.grpc_max_message_bytes))
            ),
            jwt_secret=_env("JWT_SECRET", cls.jwt_secret),
            log_level=_env("LOG_LEVEL", cls.log_level),
            header_timeout_seconds=float(
                _env("HEADER_TIMEOUT_SECONDS", str(cls.header_timeout_seconds))
            ),
            body_timeout_seconds=float(_env("BODY_TIMEOUT_SECONDS", str(cls.body_timeout_seconds))),
            rate_limit=int(_env("RATE_LIMIT", str(cls.rate_limit))),
            store_queue_limit=int(_env("STORE_QUEUE_LIMIT", str(cls.store_queue_limit))),
            tenant_queue_share=float(_env("TENANT_QUEUE_SHARE", str(cls.tenant_queue_share))),
            bot_user_agents=_env("BOT_USER_AGENTS", cls.bot_user_agents),
            email_open_window_seconds=int(
                _env("EMAIL_OPEN_WINDOW_SECONDS", str(cls.email_open_window_seconds))
            ),
            collect_event_types=_allow_lists(_env("COLLECT_EVENT_TYPES", "")),
        )

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
