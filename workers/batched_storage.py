"""Optuna's RDB storage, writing a trial's changes in as few transactions as the engine needs.

``RDBStorage`` commits every parameter, user attribute and intermediate value on its own: about
ten commits to start a trial and one per evaluation, which for a population of small models costs
more than training them. :class:`BatchedRDBStorage` keeps Optuna's API and its data, but inside
:func:`workers.engine.write_batch.deferred_writes` it holds those writes back (per thread) and
lands them together:

- at the end of the block, in one transaction, with one statement per table (upserts);
- or, for one trial, together with its end: ``set_trial_state_values`` (``Study.tell``) writes
  the trial's pending attributes, its value and its state in one transaction.

Crash safety is unchanged where it matters: a trial is finished only in the transaction that
also writes its attributes, so a finished trial is always whole in the database when ``tell``
returns. A process that dies inside a block loses that block's writes, which belong to trials
still running, and those are failed and re-queued as stale anyway.

Optuna's cached storage (what a study talks to) only reads finished trials from its cache and
delegates every write and every read of an unfinished trial to this backend, so nothing is ever
cached stale. Outside a block, every call behaves exactly as ``RDBStorage``'s.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from optuna import distributions
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.storages._rdb.storage import _create_scoped_session
from optuna.trial import TrialState
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workers.engine.write_batch import HeldParam, TrialWrites, WriteBatch


class BatchedRDBStorage(RDBStorage):
    """:class:`optuna.storages.RDBStorage` that can hold writes back (see the module docstring)."""

    TRANSACTION_METHODS = ("_flush",)
    """Methods added here that each run one transaction (``_set_state`` too, but retrying it
    needs care: see ``workers.storage``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._local = threading.local()

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state.pop("_local", None)
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._local = threading.local()

    @contextmanager
    def deferred(self) -> Iterator[WriteBatch]:
        """Hold this thread's trial writes until the block ends (nested blocks join the outer
        one). If the block raises, its held writes are dropped."""
        outer: WriteBatch | None = getattr(self._local, "batch", None)
        if outer is not None:
            yield outer
            return
        batch = WriteBatch()
        self._local.batch = batch
        try:
            yield batch
        finally:
            self._local.batch = None
        if batch.trials:
            batch.finished |= self._flush(batch.trials)
            batch.trials.clear()

    def _batch(self) -> WriteBatch | None:
        batch: WriteBatch | None = getattr(self._local, "batch", None)
        return batch

    # The writes Optuna makes one transaction each; held back inside a block.

    def _set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: distributions.BaseDistribution,
        previous_distribution: distributions.BaseDistribution | None,
    ) -> None:
        batch = self._batch()
        if batch is None:
            super()._set_trial_param(
                trial_id, param_name, param_value_internal, distribution, previous_distribution
            )
            return
        if previous_distribution is not None:
            distributions.check_distribution_compatibility(previous_distribution, distribution)
        checked = previous_distribution is not None
        batch.of(trial_id).params[param_name] = HeldParam(
            param_value_internal, distribution, checked
        )

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        batch = self._batch()
        if batch is None:
            super().set_trial_user_attr(trial_id, key, value)
            return
        json.dumps(value)  # refuse what cannot be stored now, as Optuna would
        batch.of(trial_id).user_attrs[key] = value

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        batch = self._batch()
        if batch is None:
            super().set_trial_system_attr(trial_id, key, value)
            return
        json.dumps(value)
        batch.of(trial_id).system_attrs[key] = value

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        batch = self._batch()
        if batch is None:
            super().set_trial_intermediate_value(trial_id, step, intermediate_value)
            return
        batch.of(trial_id).intermediate_values[step] = intermediate_value

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        batch = self._batch()
        pending = batch.trials.pop(trial_id, None) if batch is not None else None
        return self._set_state(trial_id, state, values, pending)

    # Transactions (each retried as a whole by ``workers.storage.ResilientRDBStorage``).

    def _set_state(
        self,
        trial_id: int,
        state: TrialState,
        values: Sequence[float] | None,
        pending: TrialWrites | None,
    ) -> bool:
        """The trial's held-back writes, its values and its new state, in one transaction."""
        if pending is None or state == TrialState.RUNNING:
            if pending is not None:
                self._flush({trial_id: pending})
            return RDBStorage.set_trial_state_values(self, trial_id, state, values)
        with _create_scoped_session(self.scoped_session) as session:
            trial = models.TrialModel.find_or_raise_by_id(trial_id, session, for_update=True)
            self.check_trial_is_updatable(trial_id, cast(TrialState, trial.state))
            self._write(session, {trial_id: pending}, {trial_id: int(trial.study_id)})
            for objective, value in enumerate(values or ()):
                self._set_trial_value_without_commit(session, trial, objective, value)
            trial.state = state
            if state.is_finished():
                trial.datetime_complete = datetime.now()
        return True

    def _flush(self, pending: dict[int, TrialWrites]) -> set[int]:
        """Write held-back changes in one transaction; returns the ids of trials skipped
        because they had already finished."""
        with _create_scoped_session(self.scoped_session) as session:
            rows = session.execute(
                select(
                    models.TrialModel.trial_id, models.TrialModel.state, models.TrialModel.study_id
                ).where(models.TrialModel.trial_id.in_(list(pending)))
            ).all()
            missing = set(pending) - {row.trial_id for row in rows}
            if missing:
                raise KeyError(f"no trial with id {min(missing)}")
            finished = {row.trial_id for row in rows if row.state.is_finished()}
            studies = {row.trial_id: row.study_id for row in rows if row.trial_id not in finished}
            live = {tid: writes for tid, writes in pending.items() if tid in studies}
            if live:
                self._write(session, live, studies)
        return finished

    def _write(
        self, session: Session, pending: dict[int, TrialWrites], studies: dict[int, int]
    ) -> None:
        """Upsert the held-back rows, one statement per table (``studies``: each trial's
        study id)."""
        self._check_new_distributions(session, pending, studies)
        params = [
            {
                "trial_id": tid,
                "param_name": name,
                "param_value": param.value,
                "distribution_json": distributions.distribution_to_json(param.distribution),
            }
            for tid, writes in pending.items()
            for name, param in writes.params.items()
        ]
        user_attrs = [
            {"trial_id": tid, "key": key, "value_json": json.dumps(value)}
            for tid, writes in pending.items()
            for key, value in writes.user_attrs.items()
        ]
        system_attrs = [
            {"trial_id": tid, "key": key, "value_json": json.dumps(value)}
            for tid, writes in pending.items()
            for key, value in writes.system_attrs.items()
        ]
        intermediate = []
        for tid, writes in pending.items():
            for step, value in writes.intermediate_values.items():
                stored, kind = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(
                    value
                )
                intermediate.append(
                    {
                        "trial_id": tid,
                        "step": step,
                        "intermediate_value": stored,
                        "intermediate_value_type": kind,
                    }
                )
        self._upsert(session, models.TrialParamModel, params, ("trial_id", "param_name"))
        self._upsert(session, models.TrialUserAttributeModel, user_attrs, ("trial_id", "key"))
        self._upsert(session, models.TrialSystemAttributeModel, system_attrs, ("trial_id", "key"))
        self._upsert(
            session, models.TrialIntermediateValueModel, intermediate, ("trial_id", "step")
        )

    def _check_new_distributions(
        self, session: Session, pending: dict[int, TrialWrites], studies: dict[int, int]
    ) -> None:
        """Check parameters first set in this process against the study's earlier trials
        (``RDBStorage`` does the same per parameter)."""
        unchecked = {
            (studies[tid], name): param.distribution
            for tid, writes in pending.items()
            for name, param in writes.params.items()
            if not param.checked
        }
        for (study_id, name), distribution in unchecked.items():
            previous = session.execute(
                select(models.TrialParamModel.distribution_json)
                .join(models.TrialModel)
                .where(models.TrialModel.study_id == study_id)
                .where(models.TrialParamModel.param_name == name)
                .limit(1)
            ).scalar()
            if previous is not None:
                distributions.check_distribution_compatibility(
                    distributions.json_to_distribution(previous), distribution
                )

    def _upsert(
        self,
        session: Session,
        model: type[models.BaseModel],
        rows: list[dict[str, Any]],
        keys: tuple[str, str],
    ) -> None:
        if not rows:
            return
        table = model.__table__
        updated = [c for c in rows[0] if c not in keys]
        dialect = self.engine.name
        if dialect in ("sqlite", "postgresql"):
            module = sqlite if dialect == "sqlite" else postgresql
            statement = module.insert(table).values(rows)
            statement = statement.on_conflict_do_update(
                index_elements=list(keys),
                set_={c: getattr(statement.excluded, c) for c in updated},
            )
            session.execute(statement)
            return
        # Other databases: Optuna's own row-by-row helpers, still in this one transaction.
        for row in rows:
            self._write_row(session, model, row)

    def _write_row(
        self, session: Session, model: type[models.BaseModel], row: dict[str, Any]
    ) -> None:
        tid = row["trial_id"]
        if model is models.TrialParamModel:
            distribution = distributions.json_to_distribution(row["distribution_json"])
            self._set_trial_param_without_commit(
                session, tid, row["param_name"], row["param_value"], distribution, distribution
            )
        elif model is models.TrialIntermediateValueModel:
            value = models.TrialIntermediateValueModel.stored_repr_to_intermediate_value(
                row["intermediate_value"], row["intermediate_value_type"]
            )
            self._set_trial_intermediate_value_without_commit(session, tid, row["step"], value)
        else:
            self._set_trial_attr_without_commit(
                session, model, tid, row["key"], json.loads(row["value_json"])
            )
