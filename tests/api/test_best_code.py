"""GET /v1/jobs/{id}/best?format=pytorch|keras: the returned setup's code as a Python file, the
same code the JSON carries; refused with the one error shape while there is no final result."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.db import jobs as jobs_repo
from service.db.migrate import upgrade_database
from service.db.session import session_scope
from service.main import create_app
from service.settings import Settings
from workers.engine.spec import Budget, Family, JobSpec, MetricRef, Parallelism, Task
from workers.jobs import run_shard


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    """A client, a small finished f1 job and a job still queued."""
    state: Path = tmp_path_factory.mktemp("best-code")
    settings = Settings(_env_file=None, data_dir=state, queue_name="test-queue")
    upgrade_database(settings.resolved_database_url)
    spec = JobSpec(
        dataset="builtin:breast_cancer",
        task=Task.BINARY,
        metric=MetricRef(name="f1"),
        budget=Budget(n_trials=4),
        families=[Family.PROXY],
        parallelism=Parallelism(population_size=2),
    )
    with session_scope(settings.resolved_database_url) as session:
        finished = jobs_repo.create_job(session=session, spec=spec)[0].id
        queued = jobs_repo.create_job(session=session, spec=spec)[0].id
    run_shard(finished, 0, settings)
    with TestClient(create_app(settings)) as client:
        yield client, finished, queued


@pytest.mark.parametrize(("framework", "field"), [("pytorch", "code"), ("keras", "keras_code")])
def test_the_best_setup_s_code_comes_as_a_python_file(
    api: tuple[TestClient, str, str], framework: str, field: str
) -> None:
    client, job_id, _ = api
    best = client.get(f"/v1/jobs/{job_id}/best").json()
    response = client.get(f"/v1/jobs/{job_id}/best", params={"format": framework})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/x-python")
    loss = best["best"]["loss"]
    assert (
        f'filename="loss_search_{job_id}_{loss}_{framework}.py"'
        in (response.headers["content-disposition"])
    )
    assert response.text == best["best"][field]
    ast.parse(response.text)  # a valid Python file
    assert "THRESHOLD = " in response.text  # f1: the tuned threshold travels with the code
    assert "def predict(logits):" in response.text


def test_json_stays_the_default(api: tuple[TestClient, str, str]) -> None:
    client, job_id, _ = api
    assert client.get(f"/v1/jobs/{job_id}/best", params={"format": "json"}).json() == (
        client.get(f"/v1/jobs/{job_id}/best").json()
    )


def test_code_before_the_final_result_is_a_409_that_says_why(
    api: tuple[TestClient, str, str],
) -> None:
    client, _, queued = api
    response = client.get(f"/v1/jobs/{queued}/best", params={"format": "keras"})
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "no_result_yet"


def test_an_unknown_format_is_a_422_naming_the_choices(api: tuple[TestClient, str, str]) -> None:
    client, job_id, _ = api
    response = client.get(f"/v1/jobs/{job_id}/best", params={"format": "tensorflow"})
    assert response.status_code == 422
    assert "keras" in response.text


def test_the_keras_file_trains_a_model_with_its_own_batch_size_and_decides_with_predict(
    api: tuple[TestClient, str, str],
) -> None:
    from sklearn.datasets import load_breast_cancer

    from tests.engine.losses.keras_backend import keras, run_keras_snippet

    client, job_id, _ = api
    source = client.get(f"/v1/jobs/{job_id}/best", params={"format": "keras"}).text
    loss_fn = run_keras_snippet(source)
    names = type(loss_fn).call.__globals__  # the file's own namespace
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.AdamW(names["LEARNING_RATE"]), loss=loss_fn)
    callbacks = loss_fn.callbacks() if hasattr(loss_fn, "callbacks") else []
    history = model.fit(
        x,
        y.astype("float32"),
        batch_size=names["BATCH_SIZE"],
        epochs=30,
        callbacks=callbacks,
        verbose=0,
    )
    assert history.history["loss"][-1] < history.history["loss"][0]
    decisions = keras.ops.convert_to_numpy(names["predict"](model(x)[:, 0]))
    assert ((decisions == y).mean()) > 0.8


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_keras_snippet() -> str:
    text = README.read_text()
    marker = text.index("on a job's real Keras file, by tests/api/test_best_code.py")
    block = re.search(r"```python\n(.*?)```", text[marker:], re.DOTALL)
    assert block is not None, "the README's Keras snippet is gone"
    return block.group(1)


def test_the_readme_s_keras_walk_through_trains_on_a_job_s_real_file(
    api: tuple[TestClient, str, str], tmp_path: Path
) -> None:
    client, job_id, _ = api
    keras_file = client.get(f"/v1/jobs/{job_id}/best", params={"format": "keras"}).text
    (tmp_path / "loss_keras.py").write_text(keras_file)
    script = readme_keras_snippet() + (
        "\nassert set(decisions.tolist()) <= {0, 1}, decisions\nprint(int(decisions.sum()))\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(tmp_path), "KERAS_BACKEND": "torch"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=README.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert 0 < int(done.stdout.split()[-1]) < 1484  # yeast4: some positives predicted, not all
