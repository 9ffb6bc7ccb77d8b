"""Trial records and job progress: written by workers as trials change.

A worker hands over :class:`~workers.engine.trial_records.TrialRecord` batches; they are upserted
by (job, number) and the job's progress (counts by state, best so far) is recomputed from the
rows in the same transaction, so a poll reads one row (:mod:`service.db.reads` pages the trials
with SQL) and never replays the study.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.db.models import JobRow, TrialRow, utcnow
from workers.engine.trial_records import FINISHED_STATES, TRIAL_STATES, TrialRecord

# Rows per INSERT: well under SQLite's limit on bound parameters (13 per row).
_CHUNK = 500


def record_trials(
    *, session: Session, job_id: str, records: Sequence[TrialRecord], maximize: bool
) -> bool:
    """Store ``records`` and refresh the job's progress; False if the job no longer exists.

    A record never moves a trial backwards (finished → running, running → waiting): a worker's
    snapshot of the study may be older than another worker's news about the same trial.
    """
    # Touch the job row first: it locks the row, so recorders of one job (its shards) refresh
    # the progress one after another, each seeing the rows the others committed.
    touched = session.execute(
        update(JobRow).where(JobRow.id == job_id).values(progress_at=utcnow())
    )
    if not touched.rowcount:  # type: ignore[attr-defined]
        return False
    for chunk in _chunks(records):
        _upsert(session, job_id, chunk)
    refresh_progress(session=session, job_id=job_id, maximize=maximize)
    return True


def refresh_progress(*, session: Session, job_id: str, maximize: bool) -> None:
    """Recompute the job's counts by state and its best completed trial from the trial rows."""
    counts = dict(
        session.execute(
            select(TrialRow.state, func.count())
            .where(TrialRow.job_id == job_id)
            .group_by(TrialRow.state)
        ).all()
    )
    best = best_trial(session=session, job_id=job_id, maximize=maximize)
    session.execute(
        update(JobRow)
        .where(JobRow.id == job_id)
        .values(
            **{f"trials_{state}": int(counts.get(state, 0)) for state in TRIAL_STATES},
            best_trial_number=best.number if best else None,
            best_value=best.value if best else None,
            best_family=best.family if best else None,
            best_loss=best.loss if best else None,
        )
    )


def best_trial(
    *, session: Session, job_id: str, maximize: bool, loss: str | None = None
) -> TrialRow | None:
    """The completed trial with the best value (the lowest number among ties), optionally
    among the trials of one loss."""
    query = select(TrialRow).where(
        TrialRow.job_id == job_id, TrialRow.state == "complete", TrialRow.value.is_not(None)
    )
    if loss is not None:
        query = query.where(TrialRow.loss == loss)
    order = TrialRow.value.desc() if maximize else TrialRow.value.asc()
    return session.scalars(query.order_by(order, TrialRow.number).limit(1)).first()


def all_trials(*, session: Session, job_id: str) -> list[TrialRow]:
    """Every trial of the job, by number (for the report)."""
    query = select(TrialRow).where(TrialRow.job_id == job_id).order_by(TrialRow.number)
    return list(session.scalars(query).all())


def _chunks(records: Sequence[TrialRecord]) -> Iterator[Sequence[TrialRecord]]:
    # The last record of a trial wins: within one batch, keep one row per number.
    latest = {record.number: record for record in records}
    unique = list(latest.values())
    for start in range(0, len(unique), _CHUNK):
        yield unique[start : start + _CHUNK]


def _upsert(session: Session, job_id: str, records: Sequence[TrialRecord]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(TrialRow).values([_row(job_id, record) for record in records])
    new = statement.excluded
    columns = [c.name for c in TrialRow.__table__.columns if c.name not in ("job_id", "number")]
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[TrialRow.job_id, TrialRow.number],
            set_={name: new[name] for name in columns},
            where=_rank(new.state) >= _rank(TrialRow.__table__.c.state),
        )
    )


def _rank(state: Any) -> ColumnElement[int]:
    """waiting < running < finished: how far a trial has come."""
    return case(
        (state.in_(FINISHED_STATES), literal(2)),
        (state == "running", literal(1)),
        else_=literal(0),
    )


def _row(job_id: str, record: TrialRecord) -> dict[str, Any]:
    return {"job_id": job_id, **asdict(record)}
