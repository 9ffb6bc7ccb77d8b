"""Recall at precision >= min_precision (Eban et al. 2017), hinge-bound Lagrangian on logits u:

((1 + lam) L+ + lam a / (1 - a) L- - lam n+) / batch,  a = min_precision,

L+ = sum over positives of max(0, 1 - u), L- = sum over negatives of max(0, 1 + u), n+ the
batch's positives. The model descends this with lam fixed. lam starts at 0 and, after each
optimiser step (after_step(lr); fit does it through callbacks()), takes a projected dual-ascent
step on the last training batch's true precision violation at the decision u >= 0 (Cotter et
al. 2019's proxy-Lagrangian), which call() keeps: lam <- max(0, lam + dual_scale * lr *
(a / (1 - a) fp - tp) / batch); the hinge bound itself never looks satisfied and would make
lam grow without limit.
"""

from typing import Any

import keras
from keras import ops


class RecallAtPrecisionLoss(keras.losses.Loss):
    def __init__(self, min_precision: float, dual_scale: float) -> None:
        super().__init__(name="eban_recall_at_precision")
        self.ratio = min_precision / (1.0 - min_precision)
        self.dual_scale = dual_scale
        self.lam = keras.Variable(0.0, trainable=False, name="lam")
        # lam's gradient at the last training batch: the true violation / batch.
        self.gradient = keras.Variable(0.0, trainable=False, name="lam_gradient")
        self.last = None  # the same, where variable writes are dropped (JAX)
        self.hooked, self.calls = False, 0  # a hook ran; calls so far (fit makes one to build)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        self.calls += 1
        if self.calls > 1 and not self.hooked:
            raise RuntimeError(
                "RecallAtPrecisionLoss moves lam after every optimiser step: pass "
                "callbacks=loss_fn.callbacks() to model.fit (or call loss_fn.after_step(lr) "
                "after every step)"
            )
        logits = ops.reshape(y_pred, (-1,))
        positive = ops.cast(ops.reshape(y_true, (-1,)) > 0.5, logits.dtype)
        size = ops.cast(ops.shape(logits)[0], logits.dtype)
        hinge_positive = ops.sum(ops.relu(1 - logits) * positive)
        hinge_negative = ops.sum(ops.relu(1 + logits) * (1 - positive))
        lam = ops.convert_to_tensor(self.lam)
        lagrangian = (
            (1 + lam) * hinge_positive + lam * self.ratio * hinge_negative - lam * ops.sum(positive)
        )
        predicted = ops.stop_gradient(ops.cast(logits >= 0, logits.dtype))
        tp = ops.sum(predicted * positive)
        violation = self.ratio * ops.sum(predicted * (1 - positive)) - tp
        gradient = ops.stop_gradient(violation / size)
        # JAX runs the loss in a stateless scope that drops variable writes: there (eagerly)
        # the value itself is kept too.
        self.last = gradient if keras.backend.backend() == "jax" else None
        self.gradient.assign(gradient)
        return lagrangian / size

    def after_step(self, lr: float) -> None:
        self.hooked = True
        step = lr * self.dual_scale
        lam = ops.convert_to_tensor(self.lam) + step * ops.convert_to_tensor(
            self.gradient if self.last is None else self.last
        )
        self.lam.assign(ops.maximum(lam, 0.0))

    def callbacks(self) -> list[keras.callbacks.Callback]:
        return [RecallAtPrecisionHooks(self)]


class RecallAtPrecisionHooks(keras.callbacks.Callback):
    """Calls after_step with the optimiser's learning rate after each training batch."""

    def __init__(self, loss: RecallAtPrecisionLoss) -> None:
        super().__init__()
        self.loss = loss

    def on_train_begin(self, logs: Any = None) -> None:
        self.loss.hooked = True

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        rate = self.model.optimizer.learning_rate
        self.loss.after_step(float(ops.convert_to_numpy(rate)))


def make_loss(dual_scale: float, metric_min_precision: float = 0.9) -> RecallAtPrecisionLoss:
    return RecallAtPrecisionLoss(metric_min_precision, dual_scale)
