"""Mixture of a proxy and a surrogate loss, after a proxy-only warm-up."""

from typing import Any

import keras
from keras import ops


class MixedLoss(keras.losses.Loss):
    """(1 - s) * proxy + s * surrogate, with s = 0 for the first warm-up epochs, 1 - lam after.

    Needs start_epoch(epoch) (epochs from 1) before each epoch: fit does it through callbacks().
    """

    def __init__(
        self, proxy: Any, surrogate: Any, lam: float, warmup: float, max_epochs: int
    ) -> None:
        super().__init__(name="mixed")
        self.proxy, self.surrogate = proxy, surrogate
        self.lam = lam
        self.warmup_epochs = round(warmup * max_epochs)
        self.surrogate_weight = keras.Variable(0.0, trainable=False, name="surrogate_weight")
        self.hooked, self.calls = False, 0  # a hook ran; calls so far (fit makes one to build)

    def hook(self) -> None:
        """Marks the mixture and its parts as driven by a training loop."""
        for loss in (self, self.proxy, self.surrogate):
            if hasattr(loss, "hooked"):
                loss.hooked = True

    def start_epoch(self, epoch: int) -> None:
        self.hook()
        if hasattr(self.proxy, "start_epoch"):
            self.proxy.start_epoch(epoch)
        if hasattr(self.surrogate, "start_epoch"):
            self.surrogate.start_epoch(epoch)
        self.surrogate_weight.assign((1.0 - self.lam) if epoch > self.warmup_epochs else 0.0)

    def after_step(self, lr: float) -> None:
        # The surrogate's own variables step on its share of the gradient.
        weight = float(ops.convert_to_numpy(self.surrogate_weight))
        if hasattr(self.surrogate, "after_step"):
            self.surrogate.after_step(lr * weight)

    def callbacks(self) -> list[keras.callbacks.Callback]:
        return [MixtureHooks(self)]

    def call(self, y_true: Any, y_pred: Any) -> Any:
        self.calls += 1
        if self.calls > 1 and not self.hooked:
            raise RuntimeError(
                "MixedLoss switches from the proxy to the surrogate after its warm-up: pass "
                "callbacks=loss_fn.callbacks() to model.fit (or call loss_fn.start_epoch(epoch) "
                "before every epoch, from 1)"
            )
        weight = ops.convert_to_tensor(self.surrogate_weight)
        return (1.0 - weight) * self.proxy(y_true, y_pred) + weight * self.surrogate(y_true, y_pred)


class MixtureHooks(keras.callbacks.Callback):
    """Calls start_epoch before each epoch and after_step after each training batch."""

    def __init__(self, loss: MixedLoss) -> None:
        super().__init__()
        self.loss = loss

    def on_train_begin(self, logs: Any = None) -> None:
        self.loss.hook()

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.loss.start_epoch(epoch + 1)

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        rate = self.model.optimizer.learning_rate
        self.loss.after_step(float(ops.convert_to_numpy(rate)))


def make_loss(proxy: Any, surrogate: Any, lam: float, warmup: float, max_epochs: int) -> MixedLoss:
    return MixedLoss(proxy, surrogate, lam, warmup, max_epochs)
