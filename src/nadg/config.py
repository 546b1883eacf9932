"""Settings: every knob of NADG, read from the environment (or `.env`) and nowhere else.

Built once at an entry point (a CLI command, the worker's lifespan, a test) and passed down;
never at import time. Env names are `NADG_<FIELD>`, plus the seed's names `GEMINI_API_KEY`,
`OPENAI_API_KEY`, `WORKER_ID`, `PORT` and Hugging Face's `SPACE_HOST`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from nadg.errors import ConfigError

MiB = 1024 * 1024
GiB = 1024 * MiB

# USD per million tokens (input, output); override with NADG_LLM_PRICES='{"model": [in, out]}'.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.5-pro": (1.25, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1-mini": (0.40, 1.60),
}


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every setting of NADG; see README.md for what each one does."""

    model_config = SettingsConfigDict(
        env_prefix="NADG_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
    )

    # --- home and registry -----------------------------------------------------------------
    home: Path = Field(default_factory=lambda: Path.home() / ".nadg")
    database_url: str | None = None

    # --- worker ----------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(7860, validation_alias=_alias("NADG_PORT", "PORT", "port"))
    auth_token: SecretStr | None = None
    worker_id: str | None = Field(None, validation_alias=_alias("WORKER_ID", "worker_id"))
    max_concurrency: int = Field(2, ge=1, le=1024)
    tags: list[str] = Field(default_factory=list)
    allow_network: bool = False
    insecure: bool = False
    max_body_bytes: int = Field(1 * MiB, ge=1024)
    max_task_timeout: float = Field(600.0, gt=0)
    idempotency_entries: int = Field(1024, ge=1)
    idempotency_ttl: float = Field(600.0, ge=0)
    register_self: bool = False
    public_url: str | None = None
    space_host: str | None = Field(None, validation_alias=_alias("SPACE_HOST", "space_host"))

    # --- sandbox ---------------------------------------------------------------------------
    python_executable: Path = Field(default_factory=lambda: Path(sys.executable))
    sandbox_uid: int = 65534  # used only when the worker runs as root
    sandbox_gid: int = 65534
    sandbox_memory_bytes: int = Field(1 * GiB, ge=16 * MiB)
    sandbox_max_processes: int = Field(64, ge=1)
    sandbox_max_file_bytes: int = Field(64 * MiB, ge=0)
    sandbox_max_open_files: int = Field(256, ge=16)
    sandbox_tmp_bytes: int = Field(64 * MiB, ge=MiB)
    sandbox_output_bytes: int = Field(1 * MiB, ge=1024)
    sandbox_use_bwrap: bool = True
    # Sandboxes started ahead of demand, each still single-use; -1: max_concurrency, 0: none.
    sandbox_warm: int = Field(-1, ge=-1, le=1024)

    # --- heartbeat -------------------------------------------------------------------------
    heartbeat_failures: int = Field(1, ge=1)
    heartbeat_timeout: float = Field(10.0, gt=0)
    heartbeat_concurrency: int = Field(200, ge=1)
    heartbeat_interval: float = Field(10.0, gt=0)
    heartbeat_retention_days: float = Field(30.0, gt=0)
    alert_webhook: str | None = None
    alert_offline_minutes: float = 30.0
    alert_failure_rate: float = 0.10

    # --- LLM -------------------------------------------------------------------------------
    llm_provider: Literal["gemini", "openai"] | None = None
    gemini_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("GEMINI_API_KEY", "NADG_GEMINI_API_KEY", "gemini_api_key")
    )
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("OPENAI_API_KEY", "NADG_OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    llm_timeout: float = Field(60.0, gt=0)
    llm_max_retries: int = Field(4, ge=0)
    llm_backoff_base: float = Field(0.5, ge=0)
    llm_backoff_max: float = Field(30.0, ge=0)
    llm_temperature: float = 0.2
    llm_max_tokens: int = 4096
    llm_prices: dict[str, tuple[float, float]] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    token_budget_per_run: int | None = None
    token_budget_per_day: int | None = None

    # --- dispatch --------------------------------------------------------------------------
    max_attempts: int = Field(3, ge=1)
    task_timeout: float = Field(60.0, gt=0)
    request_slack: float = Field(10.0, ge=0)  # extra wait for an answer beyond the task timeout
    cache_ttl: float = Field(24 * 3600.0, ge=0)

    @classmethod
    def load(cls, **values: Any) -> Settings:
        """Settings from the environment with `values` on top; ConfigError names a bad one."""
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "settings"
            raise ConfigError(f"invalid setting {where}: {first['msg']}") from exc

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under the NADG home."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'nadg.db'}"

    def token(self) -> str | None:
        """The worker auth token as plain text, for the one place that must send it."""
        return self.auth_token.get_secret_value() if self.auth_token else None

    @property
    def local_token_path(self) -> Path:
        """Where `nadg up` keeps the token of the local grid it started (mode 0600)."""
        return self.home / "local-grid.token"

    def client_token(self) -> str | None:
        """The token the master sends: NADG_AUTH_TOKEN, else the local grid's from `nadg up`."""
        if self.auth_token:
            return self.auth_token.get_secret_value()
        try:
            return self.local_token_path.read_text().strip() or None
        except OSError:
            return None
