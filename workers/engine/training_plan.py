"""Training settings derived from the data: batch size, epoch cap, evaluation and report cadence.

Torch-free, so the API can size a job's search space (batch-level losses search multiples of the
planned batch size) without loading torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TARGET_STEPS = 2000
MIN_EPOCHS, MAX_EPOCHS = 20, 200
EVALUATIONS_PER_RUN = 40
REPORTS_PER_RUN = 12  # to Optuna (for pruning and the dashboard); each is a database write
LEARNING_RATE_DROPS = 1


@dataclass(frozen=True)
class TrainingPlan:
    """Training settings derived from the data, shared by every trial of a job."""

    batch_size: int
    max_epochs: int
    eval_every: int
    patience: int
    weight_decay: float = 1e-4
    report_every: int = 1  # evaluations between reports to the study (and pruning decisions)
    # Reduce-on-plateau: a member that has not improved for half its patience has its learning
    # rate multiplied by ``learning_rate_drop_factor``, at most ``learning_rate_drops`` times.
    learning_rate_drops: int = 0
    learning_rate_drop_factor: float = 0.1

    @property
    def drop_patience(self) -> int:
        """Evaluations without improvement before a learning-rate drop (or a loss's next stage)."""
        return max(1, self.patience // 2) if self.learning_rate_drops else self.patience

    def reports_at(self, epoch: int) -> bool:
        """Whether the evaluation at ``epoch`` is reported to the study."""
        return epoch % (self.eval_every * self.report_every) == 0

    def describe(self) -> dict[str, object]:
        """The settings as they appear in results and reports."""
        return {
            "optimizer": "adamw",
            "batch_size": self.batch_size,
            "max_epochs": self.max_epochs,
            "eval_every_epochs": self.eval_every,
            "early_stopping_patience_evals": self.patience,
            "weight_decay": self.weight_decay,
            "learning_rate_drops": self.learning_rate_drops,
            "learning_rate_drop_factor": self.learning_rate_drop_factor,
        }


def plan_training(n_train: int) -> TrainingPlan:
    """Batch size from the training-set size; epochs for about ``TARGET_STEPS`` updates."""
    batch_size = int(min(max(2 ** round(math.log2(max(n_train, 1) / 20)), 32), 256))
    batches_per_epoch = math.ceil(n_train / batch_size)
    max_epochs = min(max(math.ceil(TARGET_STEPS / batches_per_epoch), MIN_EPOCHS), MAX_EPOCHS)
    eval_every = max(1, max_epochs // EVALUATIONS_PER_RUN)
    report_every = max(1, max_epochs // (eval_every * REPORTS_PER_RUN))
    return TrainingPlan(
        batch_size,
        max_epochs,
        eval_every,
        patience=8,
        report_every=report_every,
        learning_rate_drops=LEARNING_RATE_DROPS,
    )
