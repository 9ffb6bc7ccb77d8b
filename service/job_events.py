"""A job's live progress as a log of events, rebuilt from the database on every poll.

The log is a pure function of durable state (the job row and its trial rows), so any API
process, and the same one after a restart, gives every event the same id, and a client that
sends back the id of the last event it saw (``Last-Event-ID``) gets exactly the events after it:
no repeats, no gaps. The ids, in the order they are sent:

==================  ============================================================
``1``               ``status`` queued (every job was queued)
``2``               ``status`` running (once the job has started: ``started_at``)
``3 + 2n``          ``trial`` for trial number ``n`` (it finished: complete, pruned, failed, lost)
``4 + 2n``          ``progress`` after trial ``n``: trials finished so far out of the budget
``FINAL``           ``status`` succeeded, failed or cancelled
``FINAL + 1``       ``result``: the /best summary (or the error); the stream ends after it
==================  ============================================================

Trials finish out of number order (a population's members, other shards), but an id must never
be smaller than one already sent, or a client resuming after it would miss that trial. So trials
are sent in number order and trial ``n`` is sent only once every trial numbered below it has
finished: one slow trial holds back the ones after it (for at most the time a population
trains). When the job ends, every finished trial not yet sent is sent, skipping any left
unfinished (a waiting trial the budget never reached), then the final status and the result.
A trial recorded after its job ended (a shard still stopping when another failed the job) is
not part of the stream.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.db.models import JobStatus
from service.db.reads import JobFields, TrialFields
from workers.engine.trial_records import FINISHED_STATES

QUEUED_ID = 1
RUNNING_ID = 2
FINAL_ID = 1_000_000_000
"""Above any trial's ids (a job has at most a few thousand trials), below 2**53 (JavaScript)."""
RESULT_ID = FINAL_ID + 1
# Lost trials are queued again under a new number: they do not count against the budget.
_BUDGETED = ("complete", "pruned", "failed")


@dataclass(frozen=True)
class Event:
    """One server-sent event: its id, its type (the SSE ``event`` field) and its JSON data."""

    id: int
    type: str
    data: dict[str, Any]


def trial_id(number: int) -> int:
    return 3 + 2 * number


def resume_point(last_id: int) -> int:
    """The first trial number with an event after ``last_id``: after trial ``n``'s own event
    (odd id) its progress is still to come, so ``n``; after its progress, ``n + 1``."""
    return min(max((last_id - 2) // 2, 0), FINAL_ID)


@dataclass
class JobEvents:
    """Where a stream stands: the last id sent and the next trial number to send."""

    job_id: str
    last_id: int
    next_trial: int = 0
    states: Counter[str] = field(default_factory=Counter)
    ended: bool = False

    @classmethod
    def after(cls, job_id: str, last_id: int, states_before: dict[str, int]) -> JobEvents:
        """A stream that resumes after ``last_id``; ``states_before`` counts the trials before
        the resume point by state (for the progress events)."""
        return cls(job_id, last_id, resume_point(last_id), Counter(states_before))

    def poll(self, job: JobFields, trials: Sequence[TrialFields]) -> Iterator[Event]:
        """The events the job row ``job`` and the trial rows numbered from ``next_trial`` hold
        beyond those sent. Read the job first: trials a finished job ever had are then read."""
        final = JobStatus(job.status).is_final
        if self.last_id < QUEUED_ID:
            yield from self._send(Event(QUEUED_ID, "status", _status("queued", job.created_at)))
        if job.started_at is not None and self.last_id < RUNNING_ID:
            yield from self._send(Event(RUNNING_ID, "status", _status("running", job.started_at)))
        for trial in trials:
            if trial.number != self.next_trial and not final:
                return  # a trial without a row yet (being recorded) holds back the ones after it
            if trial.state in FINISHED_STATES:
                yield from self._trial(trial, job.trial_budget)
            elif not final:
                return  # it holds back the trials after it
            self.next_trial = trial.number + 1
        if final:
            yield from self._end(job)

    def _trial(self, trial: TrialFields, budget: int) -> Iterator[Event]:
        self.states[trial.state] += 1
        yield from self._send(Event(trial_id(trial.number), "trial", _trial(trial)))
        done = sum(self.states[state] for state in _BUDGETED)
        progress = {
            "finished": done,
            "total": budget,
            "by_state": dict(sorted(self.states.items())),
        }
        yield from self._send(Event(trial_id(trial.number) + 1, "progress", progress))

    def _end(self, job: JobFields) -> Iterator[Event]:
        status = _status(job.status, job.finished_at)
        status["error"] = job.error
        yield from self._send(Event(FINAL_ID, "status", status))
        self.ended = True

    def result(self, data: dict[str, Any]) -> Iterator[Event]:
        """The last event, once the job has ended: the result summary (or why there is none)."""
        yield from self._send(Event(RESULT_ID, "result", data))

    def _send(self, event: Event) -> Iterator[Event]:
        if event.id > self.last_id:
            self.last_id = event.id
            yield event


def _status(status: str, at: datetime | None) -> dict[str, Any]:
    return {"status": status, "at": at.isoformat() if at else None}


def _trial(trial: TrialFields) -> dict[str, Any]:
    return {
        "number": trial.number,
        "state": trial.state,
        "arm": trial.arm,
        "family": trial.family,
        "loss": trial.loss,
        "value": trial.value,
        "finished_at": trial.finished_at.isoformat() if trial.finished_at else None,
        "failure_reason": trial.failure_reason,
    }
