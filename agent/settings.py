"""The one settings object, read once from the environment (prefix POSTMORTEM_) and an optional .env.

Library code in `retrieval/` never reads settings: the CLI, Slack app and graph pass what they need.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The one list of provider names. The aliases are OpenAI-compatible servers with their usual local URL (used when
# POSTMORTEM_BASE_URL is not set); --provider flags and POSTMORTEM_PROVIDER are validated against the same list.
LOCAL_SERVERS: dict[str, str] = {
    "ollama": "http://127.0.0.1:11434/v1",
    "vllm": "http://127.0.0.1:8000/v1",
    "llamacpp": "http://127.0.0.1:8080/v1",
}
ProviderName = Literal["offline", "openai", "anthropic", "openai-compatible", "ollama", "vllm", "llamacpp"]
PROVIDER_NAMES: tuple[str, ...] = get_args(ProviderName)
CLOUD_TIMEOUT = 60.0  # seconds per request to a hosted API
LOCAL_TIMEOUT = 600.0  # a local server on a CPU can take minutes for one long prompt
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
    request_timeout: float | None = (
        None  # seconds; None: 60 for hosted APIs, 600 for OpenAI-compatible servers
    )
    max_retries: int = 4  # extra attempts after a 429, a 5xx or a dropped connection (never after a timeout
    # on an OpenAI-compatible server: it would queue behind the abandoned request)
    max_output_tokens: int | None = None  # per LLM step; None: each step's own ceiling (4,000 / 8,000)
    # the investigation loop (agent/investigate/): with a provider, the model reads the evidence through read-only
    # tools before it classifies; off, it classifies from the detectors' evidence in one call
    investigate: bool = False
    investigate_max_steps: int = Field(default=12, ge=1, le=100)  # tool calls per investigation
    investigate_max_tokens: int = Field(default=120_000, ge=1000)  # input + output tokens over all its calls
    investigate_max_seconds: float = Field(default=600.0, gt=0)  # wall time of the whole loop

    # `postmortem receive`: when set, OTLP/HTTP requests must carry `Authorization: Bearer <token>`
    receiver_token: SecretStr | None = None

    # Slack
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(default=None, validation_alias="SLACK_API_URL")

    # the AI Incident Database snapshot (incidents.csv, classifications_MIT.csv); None = shared/data/aiid beside
    # the checkout
    aiid_dir: Path | None = None

    @field_validator("provider", mode="before")
    @classmethod
    def _provider_name(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower() or "offline"
            return "offline" if value == "none" else value
        return value

    def timeout_for(self, provider: str) -> float:
        """The request timeout for `provider`: the setting, else the hosted or local default."""
        if self.request_timeout is not None:
            return self.request_timeout
        return CLOUD_TIMEOUT if provider in ("openai", "anthropic") else LOCAL_TIMEOUT

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
