"""Settings per service: one class, read from the environment with a prefix per service.

``REDSHIELD_CHANNEL_DATABASE_URL`` sets channel's database; ``REDSHIELD_ENV``, ``REDSHIELD_VAR_DIR``,
``KAFKA_BOOTSTRAP_SERVERS`` and the secrets are shared by every service.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final, Literal, TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES: Final = ("bridge", "channel", "enforcement", "collab", "analytics")
DEFAULT_PORTS: Final = {"bridge": 8101, "channel": 8102, "enforcement": 8103, "collab": 8104, "analytics": 8105}
PLACEHOLDER_SECRETS: Final = frozenset({"", "change-me", "changeme", "set-me", "secret", "dev", "placeholder", "redshield", "password"})


class SettingsError(RuntimeError):
    """Settings that must not be used (placeholder secrets outside dev mode, unknown service)."""


class SharedSettings(BaseSettings):
    """Settings every service shares (no per-service prefix)."""

    model_config = SettingsConfigDict(env_prefix="REDSHIELD_", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    var_dir: Path = Path("var")
    jwt_secret: str | None = Field(default=None, description="HS256 key for bearer tokens; a dev key is made under var/ when unset")
    jwt_issuer: str = "redshield"
    log_level: str = "INFO"
    log_json: bool = True


class ServiceSettings(BaseSettings):
    """One service's settings; build with :func:`load`, which sets the env prefix."""

    model_config = SettingsConfigDict(extra="ignore")

    service: str = ""
    host: str = "127.0.0.1"
    port: int = 0
    database_url: str = ""
    #: PostgreSQL schema to keep this service's tables in (created by the migrations); None: the server's default.
    #: Lets several deployments, or a benchmark's scratch run, share one database without CREATEDB rights.
    database_schema: str | None = None
    kafka_bootstrap_servers: str = Field(default_factory=lambda: os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    #: Kafka authentication (production: SASL_PLAINTEXT or SASL_SSL with SCRAM-SHA-512 per service).
    kafka_security_protocol: str = Field(default_factory=lambda: os.environ.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"))
    kafka_sasl_mechanism: str = Field(default_factory=lambda: os.environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"))
    kafka_sasl_username: str | None = Field(default_factory=lambda: os.environ.get("KAFKA_SASL_USERNAME"))
    kafka_sasl_password: str | None = Field(default_factory=lambda: os.environ.get("KAFKA_SASL_PASSWORD"))
    #: Prefix of every topic name in this deployment (tests give each test its own, e.g. ``t1a2b.``).
    topic_prefix: str = Field(default_factory=lambda: os.environ.get("REDSHIELD_TOPIC_PREFIX", ""))
    #: Pattern subscribers refresh topic metadata at least this often, so a new platform's feed is joined.
    kafka_metadata_max_age_ms: int = 10_000
    consumer_max_attempts: int = 3
    consumer_retry_backoff_ms: int = 200
    #: Run the outbox relay in this process. Off for a dedicated relay process, or for crash drills
    #: (events commit and wait in the outbox until a relay runs).
    relay_enabled: bool = True
    relay_batch_size: int = 2000
    relay_poll_interval_ms: int = 200
    max_body_bytes: int = 1_048_576
    #: Region of the bureau running this deployment (Hangzhou); the fallback jurisdiction.
    home_region: str = "330100"


S = TypeVar("S", bound="ServiceSettings")


def load(service: str, base: type[S] = ServiceSettings, **overrides: object) -> S:  # type: ignore[assignment]
    if service not in SERVICES:
        raise SettingsError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    cls = type(
        f"{service.title()}Settings",
        (base,),
        {"model_config": SettingsConfigDict(env_prefix=f"REDSHIELD_{service.upper()}_", extra="ignore")},
    )
    settings: S = cls(**overrides)
    settings.service = service
    if not settings.port:
        settings.port = DEFAULT_PORTS[service]
    if not settings.database_url:
        shared = SharedSettings()
        settings.database_url = f"sqlite+aiosqlite:///{shared.var_dir / service / f'{service}.db'}"
    return settings


def require_real_secret(name: str, value: str | None, shared: SharedSettings) -> None:
    """Outside dev and test, a missing or placeholder secret stops the service at start."""
    if shared.env == "production" and (value is None or value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < 32):
        raise SettingsError(f"{name} must be set to a real secret (32+ characters) when REDSHIELD_ENV=production")
