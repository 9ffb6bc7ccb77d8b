"""The engine as a library: ``search_losses`` on a DataFrame or a file, the README's snippet as
it stands, and bad input refused before any training."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workers.engine import DatasetError, EngineError, SpecError, search_losses
from workers.engine.losses.catalogue import LOSSES
from workers.engine.results import Verdict

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_snippet() -> str:
    text = README.read_text()
    marker = text.index("run as it stands by tests/engine/test_library.py")
    block = re.search(r"```python\n(.*?)```", text[marker:], re.DOTALL)
    assert block is not None, "the README's library snippet is gone"
    return block.group(1)


def test_the_readme_snippet_runs_as_written() -> None:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(_readme_snippet(), "README.md", "exec"), {})
    loss, verdict = output.getvalue().split()
    assert loss in LOSSES
    assert verdict in set(Verdict)


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["label"] = (x[:, 0] - 0.5 * x[:, 1] + 0.7 * rng.normal(size=n) > 0.8).astype(int)
    return frame


def test_a_file_gives_the_same_result_as_the_frame_it_holds(tmp_path: Path) -> None:
    frame = _frame()
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    options = {"target": "label", "metric": "f1", "n_trials": 3, "population_size": 3}
    from_frame = search_losses(frame, **options)  # type: ignore[arg-type]
    from_file = search_losses(path, **options)  # type: ignore[arg-type]
    assert from_frame.best.test == pytest.approx(from_file.best.test)
    assert from_frame.dataset.rows == 300
    assert from_frame.trial_counts == {"complete": 3}


def test_a_missing_target_is_refused_before_training() -> None:
    with pytest.raises(EngineError) as refused:
        search_losses(_frame(), target="no_such_column", metric="f1", n_trials=2)
    assert refused.value.field == "target"
    assert "no_such_column" in str(refused.value)


def test_duplicate_column_names_in_a_frame_are_refused() -> None:
    frame = _frame()
    doubled = pd.concat([frame, frame[["label"]]], axis=1)  # a second "label" column
    with pytest.raises(DatasetError, match="duplicate column names") as refused:
        search_losses(doubled, target="label", metric="f1", n_trials=2)
    assert refused.value.field == "dataset"


def test_a_metric_that_does_not_fit_the_task_names_the_metric() -> None:
    with pytest.raises(SpecError) as refused:
        search_losses(_frame(), target="label", metric="mape", n_trials=2)
    assert refused.value.field == "metric"


def test_a_path_that_is_not_there_names_the_data(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as refused:
        search_losses(tmp_path / "absent.csv", target="label", metric="f1", n_trials=2)
    assert refused.value.field == "data"


def _three_classes(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["label"] = np.where(x[:, 0] > 1.0, 2, np.where(x[:, 1] > 0.3, 1, 0))
    return frame


def test_a_multiclass_macro_metric_returns_class_offsets_tuned_on_validation() -> None:
    options = {"target": "label", "n_trials": 3, "population_size": 3, "losses": ["cross_entropy"]}
    tuned = search_losses(_three_classes(), metric="macro_f1", **options)  # type: ignore[arg-type]
    assert tuned.best.threshold is None
    assert tuned.best.class_offsets is not None
    assert len(tuned.best.class_offsets) == 3
    assert sum(tuned.best.class_offsets) == pytest.approx(0.0, abs=1e-6)
    plain = search_losses(_three_classes(), metric="accuracy", **options)  # type: ignore[arg-type]
    assert plain.best.class_offsets is None  # accuracy keeps the raw arg-max
