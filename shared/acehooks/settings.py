"""Process-wide settings, read from environment variables."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The local project id; a ``demo-`` project never reaches real Google services.
LOCAL_PROJECT = "demo-acehooks"


class Settings(BaseSettings):
    """Locations of acehooks' configs and backends. Each field is read from ACEHOOKS_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="ACEHOOKS_", extra="ignore")

    config_dir: Path = Field(
        Path("functions/endpoints"), description="directory of endpoint config files; default functions/endpoints"
    )
    actions_module: Path = Field(
        Path("functions/actions.py"), description="file that registers custom actions; default functions/actions.py"
    )
    project: str = Field(LOCAL_PROJECT, description="Google Cloud project id; default demo-acehooks")
    region: str = Field("us-central1", description="region of the functions and queues; default us-central1")
    worker_url: str = Field(
        "http://127.0.0.1:5001/process_event", description="URL Cloud Tasks posts events to"
    )
    worker_secret: str | None = Field(
        None, description="local stack only: shared secret the worker requires in X-Acehooks-Worker-Secret"
    )
    worker_audience: str | None = Field(
        None, description="production: audience of the queue's OIDC token; default worker_url"
    )
    sweeper_audience: str | None = Field(
        None, description="production: audience of the scheduler's OIDC token at the sweeper; default worker_audience"
    )
    tasks_service_account: str | None = Field(
        None, description="production: service account email Cloud Tasks signs OIDC tokens as"
    )
    oidc_certs_url: str = Field(
        "https://www.googleapis.com/oauth2/v1/certs", description="where Google's token signing certificates are read"
    )
    firestore_timeout_seconds: float = Field(5.0, gt=0, description="timeout of each Firestore call at ingest")
    tasks_timeout_seconds: float = Field(5.0, gt=0, description="timeout of each Cloud Tasks call at ingest")
    events_collection: str = Field("webhook_events", description="collection of event documents")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
