"""One settings object, read from the environment (prefix ``CRM_``).

Secrets have no defaults: ``make run`` generates development values on first start
(``var/secrets.env``, never committed) and tests generate their own.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.support_hours import SupportHours

REPO_ROOT = Path(__file__).resolve().parents[3]
VAR_DIR = REPO_ROOT / "var"
MIN_SECRET_LENGTH = 32
DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'crm.sqlite3'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    token_secret: SecretStr
    actions_api_key: SecretStr

    customer_token_ttl_seconds: int = Field(default=1800, gt=0)
    agent_token_ttl_seconds: int = Field(default=8 * 3600, gt=0)
    one_time_code_ttl_seconds: int = Field(default=600, gt=0)
    max_failed_attempts_per_identifier: int = Field(default=5, gt=0)
    max_failed_attempts_per_conversation: int = Field(default=8, gt=0)
    max_failed_logins_per_agent: int = Field(default=5, gt=0)
    lockout_window_seconds: int = Field(default=900, gt=0)
    outbox_dir: Path = VAR_DIR / "outbox"
    models_dir: Path = VAR_DIR / "models"

    support_hours: str = "Mon-Sun 00:00-24:00"
    support_timezone: str = "Europe/London"
    # The assistant's HTTP API, told when an agent joins, writes or hands back; unset means nobody is told.
    rasa_url: AnyHttpUrl | None = None
    rasa_jwt_secret: SecretStr | None = None
    web_dir: Path = REPO_ROOT / "web"
    chat_server_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:5005")

    @field_validator("token_secret", "actions_api_key", "rasa_jwt_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters of random text")
        return value

    @model_validator(mode="after")
    def _readable_support_hours(self) -> "Settings":
        self.schedule()  # a typo in the hours or the zone stops the service at start, with the reason
        return self

    def schedule(self) -> SupportHours:
        return SupportHours.parse(self.support_hours, self.support_timezone)


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]  # secrets come from the environment
