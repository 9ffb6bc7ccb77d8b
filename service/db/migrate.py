"""Bring a database up to date: the service's tables (Alembic) and Optuna's (its own upgrade)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from optuna.storages import RDBStorage
from sqlalchemy import select

from service.db.models import JobRow
from service.db.session import session_scope
from service.db.trials import record_trials
from workers.engine.metrics import get_metric
from workers.engine.studies import retried_trial_numbers
from workers.engine.trial_records import records_of


def _migrations() -> Path:
    """Alembic's scripts: packaged beside this module in a wheel, at the top of a checkout."""
    packaged = Path(__file__).resolve().with_name("migrations")
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "migrations"


MIGRATIONS = _migrations()

logger = logging.getLogger(__name__)


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` that needs no ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    """Create or upgrade every table the service needs in the database at ``url``."""
    command.upgrade(alembic_config(url), "head")
    # Creating the storage creates Optuna's tables (or checks that they are current).
    storage = RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    )
    try:
        backfill_trial_records(url, storage)
    finally:
        storage.remove_session()
    logger.info("database at %s is up to date", _redacted(url))


def backfill_trial_records(url: str, storage: RDBStorage) -> int:
    """Record the trials of jobs whose trials were never recorded (jobs from before trial
    records existed); returns how many jobs were filled in. Safe to run again."""
    with session_scope(url) as session:
        pending = session.execute(
            select(JobRow.id, JobRow.study_name, JobRow.spec).where(JobRow.progress_at.is_(None))
        ).all()
    filled = 0
    for job_id, study_name, spec in pending:
        try:
            trials = storage.get_all_trials(storage.get_study_id_from_name(study_name))
        except KeyError:
            continue  # not started: its worker records the trials as they come
        if not trials:
            continue
        maximize = get_metric(spec["metric"]["name"]).greater_is_better
        with session_scope(url) as session:
            records = records_of(trials, retried_trial_numbers(trials))
            record_trials(session=session, job_id=job_id, records=records, maximize=maximize)
        filled += 1
    return filled


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
