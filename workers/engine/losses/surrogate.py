"""Surrogate losses: differentiable stand-ins for the metric itself, estimated on the batch.

The losses live in :mod:`workers.engine.losses.surrogates`, one module per kind:

- ``f_scores``: soft_f1, sigmoid_f1;
- ``overlap``: soft_dice, tversky, focal_tversky;
- ``lovasz``: lovasz_hinge, lovasz_softmax;
- ``agreement``: soft_mcc, soft_qwk;
- ``ranking``: pairwise_auc, pairwise_auc_exp, pairwise_auc_sqhinge, smooth_ap;
- ``auc_margin``: auc_m (loss-owned a, b and dual alpha);
- ``constrained``: eban_recall_at_precision, eban_precision_at_recall (dual lambda);
- ``regression``: r2_loss, median_ae_loss.
"""

from __future__ import annotations

from workers.engine.losses.base import LossSpec
from workers.engine.losses.surrogates.agreement import AGREEMENT_LOSSES
from workers.engine.losses.surrogates.auc_margin import AUC_MARGIN_LOSSES
from workers.engine.losses.surrogates.constrained import CONSTRAINED_LOSSES
from workers.engine.losses.surrogates.f_scores import F_SCORE_LOSSES
from workers.engine.losses.surrogates.lovasz import LOVASZ_LOSSES
from workers.engine.losses.surrogates.overlap import OVERLAP_LOSSES
from workers.engine.losses.surrogates.ranking import RANKING_LOSSES
from workers.engine.losses.surrogates.regression import REGRESSION_LOSSES

SURROGATE_LOSSES: tuple[LossSpec, ...] = (
    *F_SCORE_LOSSES,
    *OVERLAP_LOSSES,
    *LOVASZ_LOSSES,
    *AGREEMENT_LOSSES,
    *RANKING_LOSSES,
    *AUC_MARGIN_LOSSES,
    *CONSTRAINED_LOSSES,
    *REGRESSION_LOSSES,
)
