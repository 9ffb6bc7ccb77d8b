"""AUC-M (Yuan et al. 2021), LibAUC's AUCMLoss 'v1' with a fixed class prior p:

(1-p) mean((h-a)^2 [y=1]) + p mean((h-b)^2 [y=0])
  + 2 alpha (p(1-p) margin + mean(p h [y=0] - (1-p) h [y=1])) - p(1-p) alpha^2

h = sigmoid(logit), means over the whole batch, p = the training split's positive fraction.
a, b (descent) and alpha (ascent, kept >= 0) start at 0 and take one SGD step of size
lr_scale * lr after each optimiser step (after_step(lr); fit does it through callbacks()),
along their gradients at the last training batch, which call() keeps in closed form.
"""

from typing import Any

import keras
from keras import ops


class AUCMLoss(keras.losses.Loss):
    def __init__(self, margin: float, lr_scale: float, prior: float) -> None:
        super().__init__(name="auc_m")
        self.margin, self.lr_scale, self.p = margin, lr_scale, prior
        self.a = keras.Variable(0.0, trainable=False, name="a")
        self.b = keras.Variable(0.0, trainable=False, name="b")
        self.alpha = keras.Variable(0.0, trainable=False, name="alpha")
        self.gradients = keras.Variable([0.0, 0.0, 0.0], trainable=False, name="gradients")
        self.last = None  # the same, where variable writes are dropped (JAX)
        self.hooked, self.calls = False, 0  # a hook ran; calls so far (fit makes one to build)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        self.calls += 1
        if self.calls > 1 and not self.hooked:
            raise RuntimeError(
                "AUCMLoss moves a, b and alpha after every optimiser step: pass "
                "callbacks=loss_fn.callbacks() to model.fit (or call loss_fn.after_step(lr) "
                "after every step)"
            )
        p = self.p
        h = ops.sigmoid(ops.reshape(y_pred, (-1,)))
        pos = ops.cast(ops.reshape(y_true, (-1,)) > 0.5, h.dtype)
        neg = 1.0 - pos
        a, b, alpha = (ops.convert_to_tensor(v) for v in (self.a, self.b, self.alpha))
        ranking = ops.mean(p * h * neg - (1 - p) * h * pos)
        fixed = ops.stop_gradient
        gradients = ops.stack(
            [
                fixed((1 - p) * ops.mean(-2.0 * (h - a) * pos)),
                fixed(p * ops.mean(-2.0 * (h - b) * neg)),
                fixed(2.0 * (p * (1 - p) * self.margin + ranking) - 2.0 * p * (1 - p) * alpha),
            ]
        )
        # JAX runs the loss in a stateless scope that drops variable writes: there (eagerly)
        # the value itself is kept too.
        self.last = gradients if keras.backend.backend() == "jax" else None
        self.gradients.assign(gradients)
        return (
            (1 - p) * ops.mean((h - a) ** 2 * pos)
            + p * ops.mean((h - b) ** 2 * neg)
            + 2 * alpha * (p * (1 - p) * self.margin + ranking)
            - p * (1 - p) * alpha**2
        )

    def after_step(self, lr: float) -> None:
        self.hooked = True
        step = lr * self.lr_scale
        gradients = self.gradients if self.last is None else self.last
        grad_a, grad_b, grad_alpha = (float(g) for g in ops.convert_to_numpy(gradients))
        self.a.assign(float(ops.convert_to_numpy(self.a)) - step * grad_a)
        self.b.assign(float(ops.convert_to_numpy(self.b)) - step * grad_b)
        alpha = float(ops.convert_to_numpy(self.alpha)) + step * grad_alpha
        self.alpha.assign(max(alpha, 0.0))

    def callbacks(self) -> list[keras.callbacks.Callback]:
        return [AUCMHooks(self)]


class AUCMHooks(keras.callbacks.Callback):
    """Calls after_step with the optimiser's learning rate after each training batch."""

    def __init__(self, loss: AUCMLoss) -> None:
        super().__init__()
        self.loss = loss

    def on_train_begin(self, logs: Any = None) -> None:
        self.loss.hooked = True

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        rate = self.model.optimizer.learning_rate
        self.loss.after_step(float(ops.convert_to_numpy(rate)))


def make_loss(margin: float, lr_scale: float, class_counts: list[float]) -> AUCMLoss:
    prior = class_counts[1] / max(sum(class_counts), 1.0)
    return AUCMLoss(margin, lr_scale, prior)
