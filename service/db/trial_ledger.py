"""The trial budget a job's shards share: slots taken atomically, and one claim per trial.

The budget is a counter on the job row that shards take slots from with compare-and-set, so
racing shards never start more trials than asked; a claim row per trial number makes sure two
shards never run the same trial.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db.models import JobRow, TrialClaimRow


def take_trial_slot(*, session: Session, job_id: str) -> bool:
    """Take one slot of the job's trial budget; False when it is spent. Safe under races."""
    while True:
        row = session.execute(
            select(JobRow.trials_reserved, JobRow.trial_budget).where(JobRow.id == job_id)
        ).one_or_none()
        if row is None:
            return False
        reserved, budget = row
        if reserved >= budget:
            return False
        taken = session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.trials_reserved == reserved)
            .values(trials_reserved=reserved + 1)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            return True


def settle_trial_slots(*, session: Session, job_id: str, used: int) -> None:
    """Set the job's slots taken to ``used`` (its finalizer recounted them from the study)."""
    session.execute(update(JobRow).where(JobRow.id == job_id).values(trials_reserved=used))


def give_back_trial_slot(*, session: Session, job_id: str) -> None:
    """Return one slot (a trial was lost with its worker and will be run again)."""
    session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.trials_reserved > 0)
        .values(trials_reserved=JobRow.trials_reserved - 1)
    )


def claim_trial(*, session: Session, job_id: str, trial_number: int, worker: str) -> bool:
    """Record that ``worker`` runs this trial; False if another worker claimed it first.

    Claiming again a trial this worker already holds is True (a retried call whose first
    commit went through).
    """
    try:
        with session.begin_nested():
            session.add(TrialClaimRow(job_id=job_id, trial_number=trial_number, worker=worker))
    except IntegrityError:
        holder = session.scalar(
            select(TrialClaimRow.worker).where(
                TrialClaimRow.job_id == job_id, TrialClaimRow.trial_number == trial_number
            )
        )
        return holder == worker
    return True
