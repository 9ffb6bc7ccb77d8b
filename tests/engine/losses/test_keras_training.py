"""A Keras model trains with an exported stateful loss and the callbacks it ships: Keras's own
``fit`` (PyTorch backend) drives the epoch switches and dual-variable steps, and the same fit
without the callbacks stops with the loss's error instead of training a different loss."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.engine.losses.harness import context
from tests.engine.losses.keras_backend import keras, run_keras_snippet
from workers.engine.losses.snippets import Deployment, render_snippet
from workers.engine.spec import Task

ROWS, BATCH, EPOCHS = 64, 16, 4


def exported(name: str, params: dict[str, float]) -> Any:
    source = render_snippet(
        name,
        Task.BINARY,
        params,
        context(Task.BINARY, class_counts=[44.0, 20.0], n_train=ROWS, max_epochs=EPOCHS),
        deployment=Deployment(batch_size=BATCH, learning_rate=0.05),
        framework="keras",
    )
    return run_keras_snippet(source)


def tiny_model(loss_fn: Any) -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss_fn)
    return model


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=ROWS) > 0.4).astype("float32")
    return x, y


def test_a_mixture_switches_to_its_surrogate_after_the_warm_up_under_fit() -> None:
    loss_fn = exported("mixed_soft_f1", {"lam": 0.25, "warmup": 0.5})  # 2 warm-up epochs of 4
    x, y = data()
    weights: list[float] = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: weights.append(
            float(keras.ops.convert_to_numpy(loss_fn.surrogate_weight))
        )
    )
    history = tiny_model(loss_fn).fit(
        x, y, batch_size=BATCH, epochs=EPOCHS, callbacks=[*loss_fn.callbacks(), record], verbose=0
    )
    assert weights == [0.0, 0.0, 0.75, 0.75]
    assert np.all(np.isfinite(history.history["loss"]))


def test_auc_m_moves_its_variables_after_every_step_under_fit() -> None:
    loss_fn = exported("auc_m", {"margin": 1.0, "lr_scale": 1.0})
    x, y = data()
    history = tiny_model(loss_fn).fit(
        x, y, batch_size=BATCH, epochs=EPOCHS, callbacks=loss_fn.callbacks(), verbose=0
    )
    a, b, alpha = (
        float(keras.ops.convert_to_numpy(v)) for v in (loss_fn.a, loss_fn.b, loss_fn.alpha)
    )
    assert a != 0.0
    assert b != 0.0
    assert alpha > 0.0
    assert np.all(np.isfinite(history.history["loss"]))


@pytest.mark.parametrize("surrogate", ["auc_m", "eban_recall_at_precision"])
def test_a_mixture_drives_its_surrogate_s_dual_variables_under_fit(surrogate: str) -> None:
    params = {"lam": 0.25, "warmup": 0.25, "margin": 1.0, "lr_scale": 1.0, "dual_scale": 1.0}
    loss_fn = exported(f"mixed_{surrogate}", params)
    x, y = data()
    history = tiny_model(loss_fn).fit(
        x, y, batch_size=BATCH, epochs=EPOCHS, callbacks=loss_fn.callbacks(), verbose=0
    )
    moved = loss_fn.surrogate.alpha if surrogate == "auc_m" else loss_fn.surrogate.lam
    assert float(keras.ops.convert_to_numpy(moved)) > 0.0
    assert np.all(np.isfinite(history.history["loss"]))


def test_ldam_drw_drops_the_learning_rate_when_it_starts_re_weighting_under_fit() -> None:
    loss_fn = exported(
        "ldam_drw", {"max_margin": 0.5, "scale": 10.0, "defer": 0.5, "lr_factor": 0.1}
    )
    x, y = data()
    model = tiny_model(loss_fn)
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, callbacks=loss_fn.callbacks(), verbose=0)
    rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    assert rate == pytest.approx(0.005)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("mixed_soft_f1", {"lam": 0.25, "warmup": 0.5}),
        ("auc_m", {"margin": 1.0, "lr_scale": 1.0}),
        ("ldam_drw", {"max_margin": 0.5, "scale": 10.0, "defer": 0.5, "lr_factor": 0.1}),
    ],
)
def test_fit_without_the_callbacks_stops_with_the_loss_s_error(
    name: str, params: dict[str, float]
) -> None:
    loss_fn = exported(name, params)
    x, y = data()
    with pytest.raises(RuntimeError, match=r"callbacks=loss_fn\.callbacks\(\)"):
        tiny_model(loss_fn).fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
