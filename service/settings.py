"""One settings object for the API and the workers.

With nothing configured, everything lives under one data directory: a SQLite database for the
jobs and the Optuna trials, and a SQLite-backed Celery broker. Production sets ``DATABASE_URL``
(PostgreSQL) and ``BROKER_URL`` (Redis).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.auth.principal import DEFAULT_TENANT, TenantName
from service.db.session import PoolOptions

DEFAULT_DATA_ROOTS = (Path("data"), Path("bench/datasets"))
MAX_DEFAULT_API_WORKERS = 4


class Settings(BaseSettings):
    """Configuration read from the environment (prefix ``LOSS_SEARCH_``) or a ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="LOSS_SEARCH_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path(".loss-search"),
        description="Where the embedded SQLite database and broker live.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LOSS_SEARCH_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL of the jobs and trials database; SQLite under data_dir "
        "if unset.",
    )
    broker_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LOSS_SEARCH_BROKER_URL", "BROKER_URL"),
        description="Celery broker URL; a SQLite-backed broker under data_dir if unset.",
    )
    data_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_DATA_ROOTS),
        description="Comma-separated folders that file dataset references may point into.",
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="uvicorn worker processes serving the API. Unset: one on the embedded SQLite "
        "database (its writes are serialised anyway), and on a database server one per CPU "
        "core this process may use, at most 4 (bench.load: on 2 cores, PostgreSQL, 2 workers "
        "took the paced-polling p99 from 93-103 ms to 56 ms).",
    )
    api_access_log: bool = Field(
        default=False,
        description="Log one line per request (uvicorn's access log); it costs about a tenth "
        "of a poll's CPU, so it is off unless asked for.",
    )
    # Only the writing routes (submit, cancel) and the report run on these threads; their work
    # is CPU (validation, ORM) under one GIL, so threads beyond two add no throughput but take
    # the GIL from the event loop that serves the polls: 8 threads made polls 10x slower while
    # 50 clients submitted (docs/performance.md).
    api_threads: int = Field(
        default=2,
        ge=1,
        le=256,
        description="Synchronous requests (submit, cancel, report) each API process works on at "
        "once (the rest wait their turn); at most db_pool_size + db_max_overflow.",
    )
    db_pool_size: int = Field(
        default=8, ge=1, description="Database connections each process keeps open."
    )
    db_max_overflow: int = Field(
        default=8, ge=0, description="Extra connections a process may open under load."
    )
    db_pool_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="How long a request waits for a free connection before it answers 503.",
    )
    queue_name: str = "loss-search"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    torch_threads: int | None = Field(
        default=None,
        ge=1,
        description="Intra-op threads per worker process; torch's default when unset.",
    )
    job_heartbeat_s: float = Field(
        default=5.0, gt=0, description="How often a worker touches its shard."
    )
    job_stale_after_s: float = Field(
        default=30.0,
        gt=0,
        description="A running shard silent this long is queued again (its worker is taken for "
        "dead); at least 3 heartbeats, and no shorter than trial_grace_s.",
    )
    reaper_interval_s: float = Field(
        default=15.0, gt=0, description="How often workers sweep for lost shards and messages."
    )
    resend_after_s: float = Field(
        default=60.0,
        gt=0,
        description="A queued shard no worker has claimed this long is sent again (the wait "
        "doubles with every resend).",
    )
    resend_max_backoff_s: float = Field(
        default=3600.0, gt=0, description="The longest wait between two resends of a shard."
    )
    max_population_size: int = Field(
        default=32, ge=1, description="Most trials a worker trains at once (memory permitting)."
    )
    default_shards: int = Field(
        default=1, ge=1, description="Celery tasks per job when the job does not say."
    )
    trial_heartbeat_s: int = Field(
        default=5, ge=1, description="How often a worker touches each trial it trains."
    )
    trial_grace_s: int = Field(
        default=30,
        ge=3,
        description="A running trial silent this long is failed and run again with the same "
        "parameters and seed; at least 3 trial heartbeats.",
    )
    max_trial_retries: int = Field(
        default=2, ge=0, description="How often a trial lost with its worker is run again."
    )
    read_cache_s: float = Field(
        default=0.5,
        ge=0,
        le=10,
        description="How long the API keeps a rendered job view, and each page of a job's "
        "trials, for other pollers of it (seconds; 0 turns it off). A poll may see progress "
        "this much late.",
    )
    events_poll_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often an open GET /v1/jobs/{id}/events stream reads the job and its "
        "trials from the database (seconds).",
    )
    events_keepalive_s: float = Field(
        default=15.0,
        gt=0,
        description="An events stream with nothing to send sends a ': ping' comment this often "
        "(seconds), so proxies do not close it.",
    )
    max_request_bytes: int = Field(
        default=1 << 20,
        ge=1,
        description="Largest request body the API reads (bytes); a larger one is refused with 413 "
        "before it is read whole.",
    )
    auth: Literal["auto", "required", "off"] = Field(
        default="auto",
        description="Whether requests must carry an API key (Authorization: Bearer <key>). "
        "auto: required once any key exists (loss-search keys create), and always on a "
        "non-loopback api_host; required: always; off: never (jobs belong to default_tenant).",
    )
    auth_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="How long an API process trusts a key it has checked (seconds): a revoked "
        "key stops working, and a first key turns auth on, within this long.",
    )
    default_tenant: TenantName = Field(
        default=DEFAULT_TENANT,
        description="The tenant that jobs submitted without a key (auth open) belong to.",
    )
    max_concurrent_jobs: int | None = Field(
        default=None,
        ge=1,
        description="Most jobs a tenant may have queued or running at once, unless an admin set "
        "its own limit; unset: no limit. A submission over it is refused with 429.",
    )
    max_queued_jobs: int | None = Field(
        default=None,
        ge=1,
        description="Most jobs a tenant may have waiting for a worker, unless an admin set its "
        "own limit; unset: no limit. A submission over it is refused with 429.",
    )
    max_trials_per_job: int | None = Field(
        default=None,
        ge=1,
        description="Most trials (budget.n_trials) a tenant's job may ask for, unless an admin "
        "set its own limit; unset: only the job spec's own bound. A job over it is refused "
        "with 422.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as text (for a terminal) or as one JSON object each (for a log "
        "collector); lines about a job carry job_id, tenant and shard either way.",
    )
    metrics_auth: Literal["open", "admin"] = Field(
        default="open",
        description="Who may read GET /metrics: open (anyone who reaches the port, as a "
        "Prometheus scraper usually does) or admin (an admin key, Authorization: Bearer).",
    )
    dataset_store: str | None = Field(
        default=None,
        description="Where uploaded datasets are kept: a folder, or an fsspec URL such as "
        "s3://bucket/prefix (then the API and the workers need no shared disk). A folder "
        "'datasets' under data_dir if unset.",
    )
    worker_memory_bytes: int = Field(
        default=8 << 30,
        ge=1 << 20,
        description="Memory a worker may give one job's data; a dataset estimated to need more "
        "(rows x columns x 8 bytes x 3: the table, its features and the training tensors) is "
        "refused at upload or submission, naming this limit.",
    )
    dataset_sources: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated URL prefixes a job may name as its dataset, e.g. "
        "s3://training-data/,https://data.example.com/exports/ (s3://, gs://, az://, https:// "
        "and http:// through fsspec); none by default. Credentials come from the service's "
        "environment (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*), never from a "
        "request.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="The S3 API's address, for S3-compatible stores (MinIO, Ceph); AWS if unset.",
    )
    max_upload_bytes: int = Field(
        default=2 << 30,
        ge=1,
        description="Largest dataset file POST /v1/datasets accepts (bytes); a larger one is "
        "refused with 413 while it arrives.",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs on loopback, private, link-local or other non-public "
        "addresses (refused by default, so a job cannot make the service call into its own "
        "network).",
    )
    webhook_progress_every_s: float = Field(
        default=30.0,
        gt=0,
        description="At most one job.progress webhook per job this often.",
    )
    webhook_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="How long a webhook receiver has to answer."
    )
    webhook_first_retry_s: float = Field(
        default=2.0,
        gt=0,
        description="Wait before retrying a failed webhook delivery; it doubles on each retry "
        "(with jitter), up to webhook_max_retry_wait_s.",
    )
    webhook_max_retry_wait_s: float = Field(
        default=600.0, gt=0, description="The longest wait between two delivery attempts."
    )
    webhook_retry_for_s: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="A webhook not delivered this long after its event is given up (failed).",
    )
    webhook_poll_s: float = Field(
        default=1.0,
        gt=0,
        description="How often each worker's dispatcher looks for webhooks due to be sent.",
    )
    redis_visibility_timeout_s: int = Field(
        default=12 * 3600,
        description="Redis redelivers an unacknowledged job after this long; keep it above the "
        "longest job.",
    )

    @field_validator("dataset_sources", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("data_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _threads_fit_the_pool(self) -> Settings:
        # More request threads than connections would make requests queue on the pool and
        # time out as 503s under load instead of waiting their turn in the event loop.
        connections = self.db_pool_size + self.db_max_overflow
        if self.api_threads > connections:
            raise ValueError(
                f"api_threads ({self.api_threads}) exceeds db_pool_size + db_max_overflow "
                f"({connections}); raise the pool or lower the threads"
            )
        return self

    @model_validator(mode="after")
    def _liveness_times_agree(self) -> Settings:
        # A live worker must not be taken for dead: three beats fit in each silence limit, so
        # one late or failed beat (a database blip) is forgiven. And a shard taken over from a
        # dead worker must find that worker's trials already stale (grace <= stale-after), so it
        # re-runs them at once instead of waiting for them.
        problems = []
        if self.job_stale_after_s < 3 * self.job_heartbeat_s:
            problems.append(
                f"job_stale_after_s ({self.job_stale_after_s}) must be at least 3 × "
                f"job_heartbeat_s ({self.job_heartbeat_s})"
            )
        if self.trial_grace_s < 3 * self.trial_heartbeat_s:
            problems.append(
                f"trial_grace_s ({self.trial_grace_s}) must be at least 3 × "
                f"trial_heartbeat_s ({self.trial_heartbeat_s})"
            )
        if self.trial_grace_s > self.job_stale_after_s:
            problems.append(
                f"trial_grace_s ({self.trial_grace_s}) must not exceed "
                f"job_stale_after_s ({self.job_stale_after_s})"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def resolved_data_dir(self) -> Path:
        """The data directory as an absolute path (created on first use)."""
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'loss_search.db'}"

    @property
    def resolved_api_workers(self) -> int:
        """How many uvicorn workers serve the API (see ``api_workers``)."""
        if self.api_workers is not None:
            return self.api_workers
        if self.database_url is None or self.database_url.startswith("sqlite"):
            return 1
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        cores = len(usable) if usable else (os.cpu_count() or 1)
        return max(1, min(MAX_DEFAULT_API_WORKERS, cores))

    @property
    def resolved_broker_url(self) -> str:
        """The broker URL, defaulting to kombu's SQLAlchemy transport on a SQLite file."""
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{self.resolved_data_dir / 'broker.db'}"

    @property
    def resolved_dataset_store(self) -> str:
        """Where uploads are kept: the configured URL or folder, else ``data_dir/datasets``."""
        return self.dataset_store or str(self.resolved_data_dir / "datasets")

    def storage_options(self, url: str) -> dict[str, object]:
        """fsspec options for ``url``'s file system (the S3 endpoint for s3:// URLs)."""
        if url.startswith(("s3://", "s3a://")) and self.s3_endpoint_url:
            return {"client_kwargs": {"endpoint_url": self.s3_endpoint_url}}
        return {}

    @property
    def dataset_cache_dir(self) -> Path:
        """Where a process keeps local copies of stored datasets (by fingerprint)."""
        return self.resolved_data_dir / "dataset-cache"

    @property
    def database_pool(self) -> PoolOptions:
        """Connection-pool options for this process's database engine."""
        return PoolOptions(self.db_pool_size, self.db_max_overflow, self.db_pool_timeout_s)

    @property
    def resolved_data_roots(self) -> list[Path]:
        """Data roots as absolute, symlink-free paths."""
        return [root.expanduser().resolve() for root in self.data_roots]


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
