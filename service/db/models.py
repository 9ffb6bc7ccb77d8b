"""The service's own tables. Trials are not here: Optuna's RDB storage keeps them."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class JobStatus(StrEnum):
    """A job's life: queued → running → succeeded | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


class ShardStatus(StrEnum):
    """A shard's life: queued → running → done (it may go back to queued if its worker dies)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class JobRow(Base):
    """One loss-search job: its spec, where it stands, and its result once it has one.

    ``trials_reserved`` is the trial-budget ledger shared by the job's shards: a shard takes a
    slot (compare-and-set) before it starts a trial. ``finalizer_shard`` is the shard that won the
    right to compute the final result once every shard is done.

    The ``trials_*`` counts and ``best_*`` columns are the job's progress, recomputed from its
    :class:`TrialRow` records in the transaction that writes them, so a poll reads one row.

    ``tenant`` is the tenant whose key submitted the job (the default tenant while auth is
    open); only that tenant and admins see the job.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_created_at", "status", "created_at"),
        # A tenant's listing (newest first) and its count of active jobs (quotas).
        Index("ix_jobs_tenant_created_at", "tenant", "created_at"),
        Index("ix_jobs_tenant_status", "tenant", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    study_name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    shards: Mapped[int] = mapped_column(Integer, default=1)
    trial_budget: Mapped[int] = mapped_column(Integer, default=0)
    trials_reserved: Mapped[int] = mapped_column(Integer, default=0)
    finalizer_shard: Mapped[int | None] = mapped_column(Integer, nullable=True)
    trials_waiting: Mapped[int] = mapped_column(Integer, default=0)
    trials_running: Mapped[int] = mapped_column(Integer, default=0)
    trials_complete: Mapped[int] = mapped_column(Integer, default=0)
    trials_pruned: Mapped[int] = mapped_column(Integer, default=0)
    trials_failed: Mapped[int] = mapped_column(Integer, default=0)
    trials_lost: Mapped[int] = mapped_column(Integer, default=0)
    best_trial_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    best_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    best_family: Mapped[str | None] = mapped_column(String(32), nullable=True)
    best_loss: Mapped[str | None] = mapped_column(String(64), nullable=True)
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Where the job's own webhook goes ({"url", "events"}; None: only the tenant's endpoints),
    # and when a job.progress delivery was last queued (they are rate-limited).
    notify: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The dataset URLs' versions the job validated ({field: {url, size, version_id, etag}}):
    # the worker reads exactly those.
    dataset_pins: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    progress_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ShardRow(Base):
    """One of a job's Celery tasks: a worker leases it (heartbeat) while it runs trials."""

    __tablename__ = "job_shards"
    __table_args__ = (Index("ix_job_shards_status_heartbeat", "status", "heartbeat_at"),)

    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=ShardStatus.QUEUED.value)
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When the shard's message was last handed to the broker (None: never), and how often.
    # A queued shard whose message may be lost is sent again (see workers/sweeper.py).
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sends: Mapped[int] = mapped_column(Integer, default=0)


class TrialRow(Base):
    """A trial of a job's search as the API reports it (the worker writes it as trials change).

    Optuna's tables remain the search's own record; this one is shaped for reading: one row
    per trial, indexed for paging by number and by value.
    """

    __tablename__ = "job_trials"
    __table_args__ = (
        Index("ix_job_trials_job_value", "job_id", "value"),
        Index("ix_job_trials_job_state", "job_id", "state"),
    )

    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    arm: Mapped[str | None] = mapped_column(String(16), nullable=True)
    family: Mapped[str | None] = mapped_column(String(32), nullable=True)
    loss: Mapped[str | None] = mapped_column(String(64), nullable=True)
    loss_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    training: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    temperature: Mapped[float | None] = mapped_column(Float, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    warm_start_from: Mapped[str | None] = mapped_column(String(36), nullable=True)


class TrialClaimRow(Base):
    """Which worker runs a trial of a job's study; the primary key makes the claim exclusive."""

    __tablename__ = "trial_claims"

    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    trial_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker: Mapped[str] = mapped_column(String(255))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKeyRow(Base):
    """An API key: the tenant and role it stands for, and an argon2 hash of its secret.

    ``id`` is the key's public part (``lsk_<id>_<secret>``), so a presented key is found by
    primary key and only its secret is checked. A revoked key is kept, with ``revoked_at``,
    so ``loss-search keys list`` can still say what it was.
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    role: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TenantRow(Base):
    """A tenant's own limits (None: the service's default from the settings).

    A tenant needs no row to exist: its name on a key or a job is enough. The row is made when
    an admin sets its limits or when it first submits a job. ``jobs_submitted`` counts the jobs
    it was allowed to submit; bumping it is also how a submission locks the row, so a tenant's
    submissions are checked against its limits one at a time.
    """

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    max_concurrent_jobs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_queued_jobs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_trials_per_job: Mapped[int | None] = mapped_column(Integer, nullable=True)
    jobs_submitted: Mapped[int] = mapped_column(Integer, default=0)
    # The Standard Webhooks secret ("whsec_...") that signs every webhook of the tenant's jobs;
    # made when first asked for. It must be kept in the clear: signing needs the key itself.
    webhook_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IdempotencyKeyRow(Base):
    """A job submission made with an ``Idempotency-Key``: a retry with the same key and body
    gets the same job back instead of a second one.

    The primary key makes a key unique per tenant, so two submissions with the same key can
    never both create a job. ``fingerprint`` is the SHA-256 of the body as canonical JSON;
    ``status_code`` is what the first submission was answered.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_tenant_created_at", "tenant", "created_at"),)

    tenant: Mapped[str] = mapped_column(String(63), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("jobs.id", ondelete="CASCADE"))
    status_code: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookEndpointRow(Base):
    """A URL a tenant registered to receive the webhooks of all its jobs (``events``: which)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDeliveryRow(Base):
    """One webhook message to one URL, and how its delivery went (an outbox row).

    Written in the transaction that changes the job, so an event is queued exactly when it
    happens; the workers' dispatcher sends it. ``id`` is the message's ``webhook-id``: the same
    on every attempt, so a receiver can drop repeats. ``status`` is ``pending`` until it is
    ``delivered`` (a 2xx) or ``failed`` (retries exhausted, or a target refused).
    ``lease_until`` keeps two dispatchers from sending one message at once; ``attempts_log``
    holds one ``{"at", "status_code", "error", "duration_ms"}`` per attempt.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_job_created", "job_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("jobs.id", ondelete="CASCADE"))
    tenant: Mapped[str] = mapped_column(String(63))
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    endpoint_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempts_log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DatasetRow(Base):
    """An uploaded dataset of a tenant: where its file is kept and what it holds.

    ``key`` names the file in the dataset store (``<sha256><suffix>``): two tenants uploading
    the same bytes share the file but not the row. A tenant uploading the same bytes again gets
    its existing row back (the unique index on tenant and fingerprint).
    """

    __tablename__ = "datasets"
    __table_args__ = (
        Index("ux_datasets_tenant_fingerprint", "tenant", "fingerprint", unique=True),
        Index("ix_datasets_tenant_created_at", "tenant", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    filename: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(80))
    fingerprint: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JobDatasetRow(Base):
    """An uploaded dataset a job reads (as its data or its test data): a dataset is not
    deleted while a queued or running job uses it."""

    __tablename__ = "job_datasets"

    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    dataset_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
