"""LDAM loss with deferred re-weighting (DRW).

The true class's output is lowered by the margin max_margin * (n_min / n_y) ** 0.25 and the
result is multiplied by scale before cross-entropy (binary and multilabel: BCE of
scale * (z - (2y - 1) * margin_y), per label for multilabel). Predictions are the outputs z.
Stage one: the loss is the plain mean. Stage two: each decision weighs its class's
class-balanced weight (beta = 0.9999), the loss is the weighted mean sum(w * l) / sum(w), and
the learning rate is multiplied by lr_factor. Stage two starts after epoch
round(defer * max_epochs), or earlier: call start_reweighting() when validation stops
improving (where early stopping would end training), then keep training with fresh patience.
start_epoch(epoch) (epochs from 1) must run before each epoch: fit does it through
callbacks(), which also multiplies the optimiser's learning rate by lr_factor on the epoch
start_epoch returns True (a custom loop does that itself).
"""

import math
from typing import Any

import keras
from keras import ops

DRW_ONE_MINUS_BETA = 1e-4


def _drw_balanced_weights(counts: list[float]) -> list[float]:
    counts = [max(c, 1.0) for c in counts]
    q = DRW_ONE_MINUS_BETA
    raw = [q / -math.expm1(c * math.log1p(-q)) for c in counts]  # (1 - beta) / (1 - beta ** n)
    mean = sum(r * c for r, c in zip(raw, counts, strict=True)) / sum(counts)
    return [r / mean for r in raw]


def _ldam_margins(counts: list[float], max_margin: float) -> list[float]:
    raw = [max(c, 1.0) ** -0.25 for c in counts]
    return [max_margin * r / max(raw) for r in raw]


class LDAMDRWLoss(keras.losses.Loss):
    def __init__(
        self,
        task: str,
        max_margin: float,
        scale: float,
        defer: float,
        lr_factor: float,
        class_counts: list[float],
        n_train: int,
        max_epochs: int,
    ) -> None:
        super().__init__(name="ldam_drw")
        self.task = task
        self.scale = scale
        self.lr_factor = lr_factor
        if task == "multilabel":  # per label: (negatives, positives)
            rows = [[n_train - c, c] for c in class_counts]
            self.margins: list[Any] = [_ldam_margins(r, max_margin) for r in rows]
            self.balanced: list[Any] = [_drw_balanced_weights(r) for r in rows]
        else:
            self.margins = _ldam_margins(class_counts, max_margin)
            self.balanced = _drw_balanced_weights(class_counts)
        self.defer_epochs = round(defer * max_epochs)
        self.switched = False
        self.reweighting = False
        self.hooked, self.calls = False, 0  # a hook ran; calls so far (fit makes one to build)
        self.reweighting_flag = keras.Variable(0.0, trainable=False, name="reweighting")

    def start_reweighting(self) -> None:
        self.switched = True

    def start_epoch(self, epoch: int) -> bool:
        """Returns True on the epoch re-weighting starts (time to drop the learning rate)."""
        self.hooked = True
        starting = not self.reweighting and (self.switched or epoch > self.defer_epochs)
        self.reweighting = self.reweighting or starting
        self.reweighting_flag.assign(1.0 if self.reweighting else 0.0)
        return starting

    def callbacks(self) -> list[keras.callbacks.Callback]:
        return [LDAMDRWHooks(self)]

    def _lookup(self, table: list[Any], y_true: Any, dtype: Any) -> Any:
        values = ops.convert_to_tensor(table, dtype=dtype)
        if self.task == "multilabel":
            return ops.where(y_true > 0.5, values[:, 1], values[:, 0])
        return ops.take(values, ops.cast(y_true, "int32"), axis=0)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        self.calls += 1
        if self.calls > 1 and not self.hooked:
            raise RuntimeError(
                "LDAMDRWLoss re-weights after round(defer * max_epochs) epochs: pass "
                "callbacks=loss_fn.callbacks() to model.fit (or call loss_fn.start_epoch(epoch) "
                "before every epoch, from 1, and multiply the learning rate by lr_factor on the "
                "epoch it returns True)"
            )
        dtype = y_pred.dtype
        if self.task == "multiclass":
            y_true = ops.reshape(y_true, (-1,))
            codes = ops.cast(y_true, "int32")
            margins = ops.convert_to_tensor(self.margins, dtype=dtype)
            shifted = y_pred - ops.one_hot(codes, y_pred.shape[-1], dtype=dtype) * margins
            log_p = ops.log_softmax(self.scale * shifted, axis=-1)
            per_example = -ops.take_along_axis(log_p, codes[:, None], axis=-1)[:, 0]
        else:
            if self.task == "binary":
                y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
            margin = self._lookup(self.margins, y_true, dtype)
            shifted = y_pred - (2.0 * y_true - 1.0) * margin
            per_example = ops.binary_crossentropy(y_true, self.scale * shifted, from_logits=True)
        reweighting = ops.convert_to_tensor(self.reweighting_flag) > 0.5
        weights = ops.where(
            reweighting, self._lookup(self.balanced, y_true, dtype), ops.ones_like(per_example)
        )
        return ops.sum(weights * per_example) / ops.sum(weights)


class LDAMDRWHooks(keras.callbacks.Callback):
    """Calls start_epoch before each epoch, and multiplies the optimiser's learning rate by
    lr_factor on the epoch re-weighting starts."""

    def __init__(self, loss: LDAMDRWLoss) -> None:
        super().__init__()
        self.loss = loss

    def on_train_begin(self, logs: Any = None) -> None:
        self.loss.hooked = True

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        if self.loss.start_epoch(epoch + 1):
            optimizer = self.model.optimizer
            rate = float(ops.convert_to_numpy(optimizer.learning_rate))
            optimizer.learning_rate = rate * self.loss.lr_factor


def make_loss(
    task: str,
    max_margin: float,
    scale: float,
    defer: float,
    lr_factor: float,
    class_counts: list[float],
    n_train: int,
    max_epochs: int,
) -> LDAMDRWLoss:
    return LDAMDRWLoss(task, max_margin, scale, defer, lr_factor, class_counts, n_train, max_epochs)
