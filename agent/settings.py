"""The one settings object, read once from the environment (prefix POSTMORTEM_) and an optional .env.

Library code in `retrieval/` never reads settings: the CLI, Slack app and graph pass what they need.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ProviderName = Literal["offline", "openai", "anthropic", "openai-compatible"]
# Data that sits beside a source checkout (not shipped in the wheel): <checkout>/../shared/data/...
CHECKOUT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSTMORTEM_", env_file=".env", extra="ignore")

    # store
    home: Path = Field(default_factory=lambda: Path(user_data_dir("postmortem")))
    # built artefacts (the ONNX graph of the embedder): shared by every home
    cache_dir: Path = Field(default_factory=lambda: Path(user_cache_dir("postmortem")))
    chroma_url: str | None = None  # e.g. http://127.0.0.1:8000 ; None = embedded, persistent under home
    embedder: str = "minilm"  # "minilm" (offline ONNX) or "openai:text-embedding-3-small"
    redact: bool = True
    redact_kinds: list[str] = Field(default_factory=lambda: ["email", "phone", "card", "api_key", "bearer"])

    # LLM provider
    provider: ProviderName = "offline"
    model: str | None = None  # provider default when None
    base_url: str | None = None  # for openai-compatible servers (Ollama, vLLM, llama.cpp)
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    token_budget: int = 24_000
    request_timeout: float = 60.0
    max_retries: int = 4

    # Slack
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(default=None, validation_alias="SLACK_API_URL")

    # the AI Incident Database snapshot (incidents.csv, classifications_MIT.csv); None = shared/data/aiid beside
    # the checkout
    aiid_dir: Path | None = None

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def checkpoint_path(self) -> Path:
        return self.home / "checkpoints.sqlite"

    @property
    def aiid_data_dir(self) -> Path:
        return self.aiid_dir or CHECKOUT.parent / "shared" / "data" / "aiid"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings once per process."""
    return Settings()
