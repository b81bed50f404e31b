"""Settings: a TOML file in the user config dir, overridden by COMMSTUI_* env vars.

COMMSTUI_CONFIG_DIR moves the whole config dir (tests and the demo use it so a
developer's own settings never leak in).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

APP_NAME = "commstui"


def config_dir() -> Path:
    return Path(os.environ.get("COMMSTUI_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    return Path(os.environ.get("COMMSTUI_DATA_DIR") or platformdirs.user_data_dir(APP_NAME))


class Settings(BaseSettings):
    """Everything an installation can tune. Each field may be set in config.toml
    or as COMMSTUI_<FIELD> in the environment."""

    model_config = SettingsConfigDict(env_prefix="COMMSTUI_", extra="ignore")

    db: Path = Field(default_factory=lambda: data_dir() / "commstui.duckdb")
    """The DuckDB file shared by every operator and dispatcher."""

    busy_timeout: float = 10.0
    """Seconds to keep retrying when another process holds the database file."""

    dispatch_interval: float = 10.0
    """When idle, a dispatcher sleeps until the next message is due, but at most this
    many seconds, to notice work queued by other processes (the TUI that queued it
    wakes its own dispatcher at once)."""

    dispatch_batch: int = 4000
    """How many due messages one dispatcher claims at a time (fewer under a rate limit)."""

    lease_seconds: int = 300
    """How long a claim lasts before another dispatcher may take the message over."""

    smtp_timeout: float = 30.0
    """Seconds to wait on the mail server before treating an attempt as failed-to-retry."""

    retry_backoff: list[int] = [60, 300, 900, 3600, 10800, 21600]
    """Seconds before each retry after a temporary failure (4xx, timeout, dropped
    connection); the last figure repeats. Retries stop at the office's retry lifetime."""

    throttle_pause: float = 30.0
    """Seconds a dispatcher stops claiming after a mail server said "slow down"
    (421/454); doubles while it keeps saying so, up to 10 minutes."""

    attachment_warn_mb: float = 10.0
    """An attachment bigger than this (MB) gets a warning: some mail servers refuse large mail."""

    attachment_max_mb: float = 25.0
    """An attachment bigger than this (MB) is refused."""

    letter_processes: int | None = None
    """Processes that make letter PDFs at once during bulk generation [default: one per CPU core]."""

    login_max_failures: int = 5
    """Wrong passwords in a row before an account is locked."""

    login_lock_minutes: int = 15
    """How long a locked account stays locked."""

    theme: str = "textual-dark"
    """Textual theme name."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_dir() / "config.toml")
        return (init_settings, env_settings, toml)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
