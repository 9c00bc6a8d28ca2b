"""One settings object for the whole hub, read from GGZY_* environment variables."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the hub; see the configuration table in README.md."""

    model_config = SettingsConfigDict(env_prefix="GGZY_", extra="ignore")

    home: Path = Field(default=Path("./.ggzy"), description="Where embedded PostgreSQL, raw zone and keys live.")
    environment: str = Field(default="development", description="development | production")
    database_url: str | None = Field(
        default=None, description="External PostgreSQL for the warehouse; unset = embedded server under home."
    )
    airflow_database_url: str | None = Field(
        default=None, description="Airflow metadata database; unset = database 'airflow' on the warehouse server."
    )
    jurisdiction: str = Field(default="jiaozuo", description="Profile: jiaozuo | haikou | anyang | hegang | yunnan")
    holidays_file: Path | None = Field(default=None, description="Operator holiday table (YAML); default home/holidays.yaml")
    api_host: str = "127.0.0.1"
    api_port: int = 8600
    airflow_port: int = Field(default=8680, description="Airflow api-server port (127.0.0.1); its log servers use the next two ports.")
    receiver_port: int = Field(default=8700, description="Port of the member-unit receiver stand-in that `ggzy run` starts.")
    exchange_standin_port: int = Field(default=8710, description="Port of the exchange-centre stand-in `ggzy run` starts while GGZY_EXCHANGE_API_URL is unset.")
    credit_standin_port: int = Field(default=8720, description="Port of the Credit China stand-in `ggzy run` starts while GGZY_CREDIT_CHINA_URL is unset.")
    public_base_url: str | None = Field(default=None, description="Base URL of the hub API as member units see it.")
    secret_key: str | None = Field(
        default=None, description="Key for keyed hashes of personal IDs and encryption; default: generated under home."
    )
    token_ttl_days: int = 90
    delivery_timeout_seconds: float = 10.0
    delivery_max_age_hours: float = 72.0
    delivery_backoff_base_seconds: float = 30.0
    delivery_backoff_cap_seconds: float = 6 * 3600.0
    delivery_batch_size: int = 200
    delivery_concurrency: int = 16
    delivery_concurrency_per_host: int = Field(default=4, description="Parallel pushes to one host (receivers on one server share it).")
    upload_max_bytes: int = 50 * 1024 * 1024
    exchange_api_url: str | None = Field(default=None, description="Exchange centre's data API; unset = no API pull.")
    exchange_api_key: str | None = None
    exchange_db_url: str | None = Field(default=None, description="Exchange centre's database (SQLAlchemy URL, read only).")
    exchange_drop: Path | None = Field(default=None, description="Trading file drops; default home/exchange/drop.")
    credit_china_url: str | None = Field(default=None, description="Credit China data-sharing channel; unset = no pull.")
    credit_china_app_key: str | None = None
    credit_china_app_secret: str | None = None

    @model_validator(mode="after")
    def _absolute_home(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        if self.environment == "production" and not self.secret_key:
            raise ValueError("GGZY_SECRET_KEY must be set in production (a generated key is for development only)")
        return self

    @property
    def embedded(self) -> bool:
        """True when the warehouse is the embedded PostgreSQL under home."""
        return self.database_url is None

    @property
    def pgdata(self) -> Path:
        """Data directory of the embedded PostgreSQL."""
        return self.home / "pgdata"

    @property
    def raw_zone(self) -> Path:
        """Where the exact bytes of every received file and its Parquet copy are kept."""
        return self.home / "raw"

    @property
    def drop_folder(self) -> Path:
        """Departments' drop folder: one sub-folder per submitting unit code."""
        return self.home / "drop"

    @property
    def airflow_home(self) -> Path:
        """AIRFLOW_HOME used by the hub's Airflow processes."""
        return self.home / "airflow"

    @property
    def holidays_path(self) -> Path:
        """Operator holiday file (may not exist)."""
        return self.holidays_file or self.home / "holidays.yaml"

    @property
    def api_base_url(self) -> str:
        """Base URL of the hub API."""
        return self.public_base_url or f"http://{self.api_host}:{self.api_port}"

    def hub_secret(self) -> bytes:
        """The hub's secret key; generated once under home in development."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.home / "keys" / "hub.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call get_settings.cache_clear())."""
    return Settings()
