"""Surrogate losses: differentiable stand-ins for the metric itself, estimated on the batch.

Every entry names the metrics it stands in for, and all but the expected cost (a per-example mean,
whose value does not depend on the batch) are batch-level. The implementations live in
:mod:`workers.engine.losses.surrogates`, one module per kind: ``f_scores``, ``overlap``,
``lovasz``, ``agreement``, ``ranking``, ``auc_margin``, ``constrained`` and ``regression``, and
the expected cost in :mod:`workers.engine.losses.cost_sensitive`; the
entries for metrics of the scores' order (AUCs, recall at precision...) are declared in
:mod:`~workers.engine.losses.catalogue.surrogate_ranking`.
"""

from __future__ import annotations

from workers.engine.losses.catalogue.entry import (
    BINARY,
    CLASSIFICATION,
    MULTICLASS,
    REGRESSION,
    SIGMOID_TASKS,
    LossSpec,
    ParamSpec,
)
from workers.engine.losses.catalogue.surrogate_ranking import RANKING_LOSSES
from workers.engine.spec import Family

F_METRICS = frozenset({"f1", "fbeta", "macro_f1", "micro_f1", "samples_f1", "weighted_f1"})
# The overlap and Lovász losses score each class (label) on its own and take the plain mean:
# they serve the metrics that average that way (binary f1 has one column), not micro, samples
# or weighted averages. Tversky's own alpha and beta reach F-beta's weighting of false
# negatives (alpha = 1 / (1 + b^2), beta = b^2 / (1 + b^2)); Dice and Lovász are beta-blind.
# "jaccard" here is jaccard averaged per label (average="macro"); with its default per-example
# average the metric is served as "jaccard_samples" (see served_as), which these losses do not
# optimise.
PER_COLUMN_METRICS = frozenset({"f1", "macro_f1", "jaccard"})
TVERSKY_METRICS = PER_COLUMN_METRICS | {"fbeta"}

_SIGMOID_F1_REF = (
    "Bénédict, Koops, Odijk & de Rijke, sigmoidF1: A Smooth F1 Score Surrogate Loss for "
    "Multilabel Classification, TMLR 2022."
)

_F_SCORE_LOSSES = (
    LossSpec(
        name="soft_f1",
        family=Family.SURROGATE,
        tasks=CLASSIFICATION,
        summary="1 - F-beta from probabilities (beta from an fbeta metric, else 1), averaged "
        "over classes and labels as the metric averages (macro, micro, samples, weighted).",
        reference=_SIGMOID_F1_REF + " (the soft F1 baseline, with S the plain sigmoid/softmax)",
        serves=F_METRICS,
        batch_level=True,
    ),
    LossSpec(
        name="sigmoid_f1",
        family=Family.SURROGATE,
        tasks=CLASSIFICATION,
        summary="1 - F-beta from sigmoid(slope * (logit + offset)), averaged over classes and "
        "labels as the metric averages.",
        reference=_SIGMOID_F1_REF,
        params=(
            ParamSpec("slope", 1.0, 30.0, 1.0, "slope of the sigmoid on the logits", log=True),
            ParamSpec("offset", -2.0, 2.0, 0.0, "shift added to the logits before the sigmoid"),
        ),
        serves=F_METRICS,
        batch_level=True,
    ),
    LossSpec(
        name="sigmoid_f1_prob",
        family=Family.SURROGATE,
        tasks=CLASSIFICATION,
        summary="sigmoidF1 as the authors' code computes it: 1 - F-beta from "
        "1 / (1 + exp(S (p + E))) of the probabilities p (sigmoid; softmax for multiclass), so "
        "published (S, E) settings apply as published: S = -100, E = -0.5 is a near step at "
        "p = 1/2. Averaged over columns as the metric averages.",
        reference=_SIGMOID_F1_REF + " Parametrisation of the authors' code (metrics-as-losses).",
        params=(
            ParamSpec("S", -100.0, -1.0, -100.0, "slope; negative, as published"),
            ParamSpec("E", -0.9, -0.1, -0.5, "offset: the step sits at p = -E"),
        ),
        serves=F_METRICS,
        batch_level=True,
    ),
)

# Salehi et al. search alpha + beta = 1 with alpha from 0.1 to 0.9 (best 0.3 / 0.7).
_ALPHA = ParamSpec("alpha", 0.1, 0.9, 0.3, "weight of soft false positives")
_BETA = ParamSpec("beta", 0.1, 0.9, 0.7, "weight of soft false negatives")
_SALEHI = (
    "Salehi, Erdogmus & Gholipour, Tversky Loss Function for Image Segmentation Using 3D Fully "
    "Convolutional Deep Networks, MLMI 2017."
)

_OVERLAP_LOSSES = (
    LossSpec(
        name="soft_dice",
        family=Family.SURROGATE,
        tasks=CLASSIFICATION,
        summary="V-Net Dice loss: squared-probability denominator, 1e-5 smoothing, mean over "
        "every class.",
        reference="Milletari, Navab & Ahmadi, V-Net: Fully Convolutional Neural Networks for "
        "Volumetric Medical Image Segmentation, 3DV 2016 (as in MONAI's DiceLoss, squared_pred).",
        serves=PER_COLUMN_METRICS,
        batch_level=True,
    ),
    LossSpec(
        name="tversky",
        family=Family.SURROGATE,
        tasks=CLASSIFICATION,
        summary="1 - Tversky index tp / (tp + alpha fp + beta fn), mean over present classes.",
        reference=_SALEHI,
        params=(_ALPHA, _BETA),
        serves=TVERSKY_METRICS,
        batch_level=True,
    ),
    LossSpec(
        name="focal_tversky",
        family=Family.SURROGATE,
        tasks=CLASSIFICATION,
        summary="(1 - Tversky index) ** (1 / gamma), mean over present classes.",
        reference="Abraham & Khan, A Novel Focal Tversky Loss Function with Improved Attention "
        "U-Net for Lesion Segmentation, ISBI 2019; " + _SALEHI,
        params=(
            _ALPHA,
            _BETA,
            ParamSpec("gamma", 1.0, 3.0, 4.0 / 3.0, "focal exponent: loss (1 - TI) ** (1/gamma)"),
        ),
        serves=TVERSKY_METRICS,
        batch_level=True,
    ),
)

_BERMAN = (
    "Berman, Rannen Triki & Blaschko, The Lovász-Softmax Loss: A Tractable Surrogate for the "
    "Optimization of the Intersection-over-Union Measure in Neural Networks, CVPR 2018."
)

_LOVASZ_LOSSES = (
    LossSpec(
        name="lovasz_hinge",
        family=Family.SURROGATE,
        tasks=SIGMOID_TASKS,
        summary="Lovász extension of the Jaccard loss at the hinge errors of the logits.",
        reference=_BERMAN,
        serves=PER_COLUMN_METRICS,
        batch_level=True,
    ),
    LossSpec(
        name="lovasz_softmax",
        family=Family.SURROGATE,
        tasks=MULTICLASS,
        summary="Lovász extension of each class's Jaccard loss at |y - softmax|, mean over "
        "present classes.",
        reference=_BERMAN,
        serves=frozenset({"macro_f1"}),
        batch_level=True,
    ),
)

_AGREEMENT_LOSSES = (
    LossSpec(
        name="soft_mcc",
        family=Family.SURROGATE,
        tasks=CLASSIFICATION,
        summary="1 - Matthews correlation from soft confusion counts (R_K for multiclass).",
        reference="Abhishek & Hamarneh, Matthews Correlation Coefficient Loss for Deep "
        "Convolutional Networks, ISBI 2021; Gorodkin, Comparing Two K-category Assignments by a "
        "K-category Correlation Coefficient, Comput. Biol. Chem. 2004.",
        serves=frozenset({"mcc"}),
        batch_level=True,
    ),
    LossSpec(
        name="soft_qwk",
        family=Family.SURROGATE,
        tasks=MULTICLASS,
        summary="1 - Cohen's kappa (quadratic or linear weights, from the metric) from the soft "
        "confusion matrix.",
        reference="de la Torre, Puig & Valls, Weighted Kappa Loss Function for Multi-class "
        "Classification of Ordinal Data in Deep Learning, Pattern Recognit. Lett. 2018.",
        serves=frozenset({"cohen_kappa"}),
        batch_level=True,
    ),
)

_REGRESSION_LOSSES = (
    LossSpec(
        name="r2_loss",
        family=Family.SURROGATE,
        tasks=REGRESSION,
        summary="1 - R^2 of the batch: squared error relative to the batch's target variance.",
        reference="Coefficient of determination (Wright 1921); as a batch loss, e.g. "
        "torchmetrics.functional.r2_score.",
        serves=frozenset({"r2"}),
        batch_level=True,
    ),
    LossSpec(
        name="median_ae_loss",
        family=Family.SURROGATE,
        tasks=REGRESSION,
        summary="Median absolute residual of the batch (least median of squares).",
        reference="Rousseeuw, Least Median of Squares Regression, JASA 1984.",
        serves=frozenset({"median_ae"}),
        batch_level=True,
    ),
)

_COST_LOSSES = (
    LossSpec(
        name="soft_expected_cost",
        family=Family.SURROGATE,
        tasks=BINARY | MULTICLASS,
        summary="Expected cost under the predicted distribution, sum_j p_j(x) C[y, j], with the "
        "metric's cost matrix C: the mean cost of a decision drawn from the model.",
        reference="Elkan, The Foundations of Cost-Sensitive Learning, IJCAI 2001 (the expected "
        "cost of a decision); Kukar & Kononenko, Cost-Sensitive Learning with Neural Networks, "
        "ECAI 1998 (minimising misclassification costs in back-propagation).",
        serves=frozenset({"expected_cost"}),
    ),
)

SURROGATE_LOSSES: tuple[LossSpec, ...] = (
    *_F_SCORE_LOSSES,
    *_OVERLAP_LOSSES,
    *_LOVASZ_LOSSES,
    *_AGREEMENT_LOSSES,
    *RANKING_LOSSES,
    *_REGRESSION_LOSSES,
    *_COST_LOSSES,
)
