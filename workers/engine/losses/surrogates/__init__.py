"""Surrogate losses, one module per kind of metric they stand in for.

- ``f_scores``: soft_f1, sigmoid_f1;
- ``overlap``: soft_dice, tversky, focal_tversky;
- ``lovasz``: lovasz_hinge, lovasz_softmax;
- ``agreement``: soft_mcc, soft_qwk;
- ``ranking``: pairwise_auc, pairwise_auc_exp, pairwise_auc_sqhinge, smooth_ap;
- ``auc_margin``: auc_m (loss-owned a, b and dual alpha);
- ``constrained``: eban_recall_at_precision, eban_precision_at_recall (dual lambda);
- ``regression``: r2_loss, median_ae_loss.

Their catalogue entries, in order, are in :mod:`workers.engine.losses.catalogue.surrogate`.
"""
