"""Bi-tempered logistic loss (Amid, Warmuth, Anil & Koren 2019), averaged over decisions.

With the tempered log log_t(x) = (x^(1-t) - 1) / (1-t) and exp_t(x) = [1 + (1-t) x]_+^(1/(1-t)),
the probabilities are the tempered softmax p_i = exp_t2(a_i - lam), lam solving
sum_i exp_t2(a_i - lam) = 1, and a decision with true class y costs
-log_t1(p_y) + (sum_i p_i^(2-t1) - 1) / (2-t1), at most 1 / (1-t1) when t1 < 1.
t1 = t2 = 1 is cross-entropy; t2 >= 1 only. Binary and multilabel decisions are two classes
with logits (0, z). lam is found by Newton's method on Z^(1-t2) - 1, Z = sum_i exp_t2(a_i - lam),
from the largest logit; only the last step carries gradient (the implicit one).
"""

from typing import Any

import keras
from keras import ops


class BiTemperedLogisticLoss(keras.losses.Loss):
    EPS = 1e-6  # a temperature this close to 1 uses the ordinary exp / log
    STEPS = 10  # Newton steps for the normaliser; two classes need fewer (TWO_CLASS_STEPS)
    TWO_CLASS_STEPS = 5

    def __init__(self, task: str, t1: float, t2: float) -> None:
        super().__init__(name="bi_tempered")
        self.task, self.t1, self.t2 = task, t1, t2

    @staticmethod
    def newton_step(shifted: Any, lam: Any, s: float) -> Any:
        log_e = -ops.log1p(s * (lam - shifted)) / s
        log_z = ops.log(ops.sum(ops.exp(log_e), axis=-1, keepdims=True))  # each term <= 1
        escort_sum = ops.sum(ops.exp((1.0 + s) * log_e), axis=-1, keepdims=True)
        return -ops.expm1(-s * log_z) * ops.exp((1.0 + s) * log_z) / (s * escort_sum)

    def tempered_log_softmax(self, logits: Any, t: float) -> Any:
        if abs(t - 1.0) < self.EPS:
            return ops.log_softmax(logits, axis=-1)
        s = t - 1.0
        shifted = logits - ops.stop_gradient(ops.max(logits, axis=-1, keepdims=True))
        fixed = ops.stop_gradient(shifted)
        lam = ops.zeros_like(fixed[..., :1])
        steps = self.TWO_CLASS_STEPS if logits.shape[-1] == 2 else self.STEPS
        for _ in range(steps - 1):  # no gradient through the iterations
            lam = lam + self.newton_step(fixed, lam, s)
        lam = ops.stop_gradient(lam)
        lam = lam + self.newton_step(shifted, lam, s)
        return -ops.log1p(s * (lam - shifted)) / s

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if self.task == "multiclass":
            y_true = ops.reshape(y_true, (-1,))
        elif self.task == "binary":
            y_true, y_pred = ops.reshape(y_true, (-1,)), ops.reshape(y_pred, (-1,))
        if self.task != "multiclass":
            y_pred = ops.stack([ops.zeros_like(y_pred), y_pred], axis=-1)
        log_p = self.tempered_log_softmax(y_pred, self.t2)
        codes = ops.cast(y_true, "int32")
        onehot = ops.cast(ops.one_hot(codes, y_pred.shape[-1]), log_p.dtype)
        log_p_true = ops.sum(onehot * log_p, axis=-1)
        r = 1.0 - self.t1
        tempered_log_true = log_p_true if abs(r) < self.EPS else ops.expm1(r * log_p_true) / r
        power_sum = ops.sum(ops.exp((2.0 - self.t1) * log_p), axis=-1)
        return ops.mean(-tempered_log_true + (power_sum - 1.0) / (2.0 - self.t1))


def make_loss(task: str, t1: float, t2: float) -> keras.losses.Loss:
    if t2 < 1.0:
        raise ValueError("t2 >= 1 only")
    return BiTemperedLogisticLoss(task, t1, t2)
