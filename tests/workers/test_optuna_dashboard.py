"""optuna-dashboard, which docker-compose runs on our database, reads the studies our workers write.

A worker runs a small real job (``run_shard``, three trials) on a migrated SQLite database. The
``optuna-dashboard`` command then serves that database's URL, as the docker-compose service does
with its storage URL, and the tests read the JSON API its web pages are drawn from, over HTTP.
They prove that a person browsing the dashboard finds the job's study by name and sees every trial
with the state and value Optuna itself records, the learning curves, the best trial, the loss
setup each trial trained (the parameters and user attributes our engine puts on trials), and the
importance of our search parameters.
"""

from __future__ import annotations

import json
import math
import numbers
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import optuna
import pytest
from optuna.trial import FrozenTrial

from service.db.migrate import upgrade_database
from service.db.models import JobStatus
from service.settings import Settings
from tests.integration.harness import free_port, wait_for
from tests.workers.test_job_lifecycle import job, make_job
from workers.jobs import run_shard

N_TRIALS = 3
DASHBOARD = Path(sys.executable).with_name("optuna-dashboard")  # the dev extra's console script


@dataclass(frozen=True)
class Served:
    """The dashboard's answers about the job's study, and Optuna's own view of that study."""

    summaries: list[dict[str, Any]]  # GET /api/studies
    detail: dict[str, Any]  # GET /api/studies/<study_id>
    importances: dict[str, Any]  # GET /api/studies/<study_id>/param_importances
    study: optuna.Study

    def trials(self) -> list[tuple[FrozenTrial, dict[str, Any]]]:
        """Each of Optuna's trials with the dashboard's view of it (matched by trial number)."""
        shown = {trial["number"]: trial for trial in self.detail["trials"]}
        return [(trial, shown[trial.number]) for trial in self.study.trials]


def worker_settings(root: Path) -> Settings:
    """Embedded-default settings in ``root`` on a migrated database, as ``tests/conftest.py``'s."""
    settings = Settings(
        _env_file=None,
        data_dir=root / "state",
        database_url=None,
        broker_url=None,
        data_roots=[root],
        queue_name="test-queue",
    )
    upgrade_database(settings.resolved_database_url)
    return settings


@pytest.fixture(scope="module")
def dashboard_on(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A finished job's database, served by the ``optuna-dashboard`` command on a loopback port."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    root = tmp_path_factory.mktemp("dashboard")
    settings = worker_settings(root)
    job_id = make_job(settings, n_trials=N_TRIALS)
    assert run_shard(job_id, 0, settings) is JobStatus.SUCCEEDED
    url = settings.resolved_database_url
    study = optuna.load_study(study_name=job(settings, job_id).study_name, storage=url)

    port = free_port()
    log = root / "optuna-dashboard.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [str(DASHBOARD), url, "--host", "127.0.0.1", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def answering() -> bool:
        if server.poll() is not None:
            raise AssertionError(
                f"optuna-dashboard exited with {server.returncode}:\n{log.read_text()}"
            )
        try:
            return client.get("/api/meta").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(answering, 60, "optuna-dashboard to answer")
        summaries = read(client, "/api/studies", log)["study_summaries"]
        ours = [s for s in summaries if s["study_name"] == study.study_name]
        # If our study were missing, the listing test says so; the others fail on empty answers.
        path = f"/api/studies/{ours[0]['study_id']}" if ours else None
        yield Served(
            summaries=summaries,
            detail=read(client, path, log) if path else {},
            importances=read(client, f"{path}/param_importances", log) if path else {},
            study=study,
        )
    finally:
        client.close()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def read(client: httpx.Client, path: str, log: Path) -> dict[str, Any]:
    """The JSON body of a GET the dashboard must answer with 200 (its log on failure)."""
    response = client.get(path)
    assert response.status_code == 200, f"GET {path}: {response.text}\n{log.read_text()}"
    body: dict[str, Any] = response.json()
    return body


def read_back(shown: str, stored: object) -> object:
    """The value the dashboard shows as ``shown`` for a user attribute stored as ``stored``.

    The dashboard shows every attribute as text: strings as they are, numbers as ``str``, and
    anything else (our lists and dicts) as JSON cut at 1,024 characters.
    """
    if isinstance(stored, str):
        return shown
    if isinstance(stored, bool):
        return shown == "True"
    if isinstance(stored, numbers.Real):
        return float(shown)
    return json.loads(shown)


def test_the_dashboard_lists_the_jobs_study_by_name_and_direction(dashboard_on: Served) -> None:
    names = [summary["study_name"] for summary in dashboard_on.summaries]
    assert names == [dashboard_on.study.study_name]  # the job tables beside it are not studies
    assert dashboard_on.detail["name"] == dashboard_on.study.study_name
    assert dashboard_on.detail["directions"] == ["maximize"]  # roc_auc: greater is better


def test_every_trial_shows_the_state_and_value_optuna_records(dashboard_on: Served) -> None:
    trials = dashboard_on.study.trials
    assert len(trials) == N_TRIALS
    assert len(dashboard_on.detail["trials"]) == N_TRIALS
    for trial, shown in dashboard_on.trials():
        assert shown["state"].upper() == trial.state.name
        assert shown.get("values") == trial.values
        assert "datetime_start" in shown


def test_the_best_trial_is_optunas_best_trial(dashboard_on: Served) -> None:
    best = [trial["number"] for trial in dashboard_on.detail["best_trials"]]
    assert best == [dashboard_on.study.best_trial.number]


def test_each_trial_shows_the_loss_setup_it_trained(dashboard_on: Served) -> None:
    for trial, shown in dashboard_on.trials():
        attrs = {attr["key"]: attr["value"] for attr in shown["user_attrs"]}
        # What a person scanning the trial table needs first: which loss, of which family.
        assert attrs["loss"] == trial.user_attrs["loss"]
        assert attrs["family"] == trial.user_attrs["family"]
        assert attrs["arm"] == trial.user_attrs["arm"]
        # And every other attribute we store, none lost or cut short.
        assert set(attrs) == set(trial.user_attrs)
        for key, stored in trial.user_attrs.items():
            assert read_back(attrs[key], stored) == stored, key
        params = {param["name"]: param["param_external_value"] for param in shown["params"]}
        assert params == {name: str(value) for name, value in trial.params.items()}


def test_the_trial_table_offers_our_attributes_as_columns(dashboard_on: Served) -> None:
    columns = {attr["key"] for attr in dashboard_on.detail["union_user_attrs"]}
    assert {"arm", "family", "loss", "loss_params", "learning_rate", "seed"} <= columns
    searched = {param["name"] for param in dashboard_on.detail["union_search_space"]}
    assert set().union(*(trial.params for trial in dashboard_on.study.trials)) == searched


def test_the_study_page_ranks_our_search_parameters_by_importance(dashboard_on: Served) -> None:
    (ranked,) = dashboard_on.importances["param_importances"]  # one objective
    names = {param["name"] for param in ranked}
    assert names == {param["name"] for param in dashboard_on.detail["union_search_space"]}
    assert all(param["importance"] >= 0 for param in ranked)


def test_every_trial_shows_its_learning_curve(dashboard_on: Served) -> None:
    assert dashboard_on.detail["has_intermediate_values"] is True
    for trial, shown in dashboard_on.trials():
        curve = [(point["step"], point["value"]) for point in shown["intermediate_values"]]
        expected = sorted(trial.intermediate_values.items())
        assert curve == [(step, "nan" if math.isnan(v) else v) for step, v in expected]
        assert curve, f"trial {trial.number} reported no epoch"
