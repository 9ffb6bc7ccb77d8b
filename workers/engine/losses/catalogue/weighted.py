"""Weighted losses: cross-entropy re-weighted towards rare classes or hard examples, and the
MAE weighted for MAPE.

Implementations: class weights and focal loss in :mod:`~workers.engine.losses.weighted`, the
imbalance adjustments in :mod:`~workers.engine.losses.weighted_imbalance`, the reshaped
cross-entropies in :mod:`~workers.engine.losses.weighted_reshaped`, the MAPE-weighted MAE in
:mod:`~workers.engine.losses.weighted_regression`.
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
from workers.engine.spec import Family

_CLASS_WEIGHTED_LOSSES = (
    LossSpec(
        name="class_weighted_ce",
        family=Family.WEIGHTED,
        tasks=CLASSIFICATION,
        summary="Cross-entropy with class weights n_c^-power (0: none, 1: inverse frequency).",
        reference="King & Zeng, Logistic Regression in Rare Events Data, Political Analysis 2001; "
        "Cui et al., Class-Balanced Loss Based on Effective Number of Samples, CVPR 2019.",
        params=(ParamSpec("power", 0.0, 1.0, 0.5, "exponent p in w_c ∝ n_c^-p"),),
    ),
    LossSpec(
        name="class_balanced",
        family=Family.WEIGHTED,
        tasks=CLASSIFICATION,
        summary="Cross-entropy with class weights (1 - beta) / (1 - beta^n_c): the inverse "
        "effective number of samples.",
        reference="Cui et al., Class-Balanced Loss Based on Effective Number of Samples, "
        "CVPR 2019.",
        params=(
            ParamSpec(
                "one_minus_beta",
                1e-4,
                0.1,
                1e-3,
                "1 - beta, so beta in [0.9, 0.9999]; log-uniform, because the effective number "
                "saturates at 1 / (1 - beta) examples",
                log=True,
            ),
        ),
    ),
    LossSpec(
        name="focal",
        family=Family.WEIGHTED,
        tasks=CLASSIFICATION,
        summary="Down-weights well-classified examples by (1 - p_t)^gamma.",
        reference="Lin et al., Focal Loss for Dense Object Detection, ICCV 2017.",
        params=(
            ParamSpec("gamma", 0.0, 5.0, 2.0, "focusing parameter; 0 is cross-entropy"),
            ParamSpec(
                "alpha",
                0.05,
                0.95,
                0.25,
                "weight of the positive class",
                tasks=SIGMOID_TASKS,
            ),
        ),
    ),
)

_IMBALANCE_LOSSES = (
    LossSpec(
        name="logit_adjusted",
        family=Family.WEIGHTED,
        tasks=CLASSIFICATION,
        summary="Cross-entropy on logits shifted by tau * log prior: trains balanced logits.",
        reference="Menon et al., Long-Tail Learning via Logit Adjustment, ICLR 2021.",
        params=(
            ParamSpec("tau", 0.0, 2.0, 1.0, "scale of the log-prior adjustment (1 in the paper)"),
        ),
    ),
    LossSpec(
        name="ldam_drw",
        family=Family.WEIGHTED,
        tasks=CLASSIFICATION,
        summary="Cross-entropy with class margins ∝ n_c^(-1/4) on scaled outputs, then "
        "class-balanced weights and a lower learning rate once the first stage has converged.",
        reference="Cao et al., Learning Imbalanced Datasets with Label-Distribution-Aware "
        "Margin Loss, NeurIPS 2019.",
        params=(
            ParamSpec(
                "max_margin",
                0.05,
                1.0,
                0.5,
                "margin of the rarest class, in output units before the scale (0.5 in the paper)",
                log=True,
            ),
            ParamSpec(
                "scale",
                1.0,
                30.0,
                30.0,
                "scale s of the margin-shifted outputs inside the loss (30 in the paper)",
                log=True,
            ),
            ParamSpec(
                "defer",
                0.3,
                0.9,
                0.8,
                "fraction of the epoch cap after which re-weighting starts at the latest "
                "(0.8 in the paper); it starts earlier when validation stops improving",
            ),
            ParamSpec(
                "lr_factor",
                0.01,
                1.0,
                0.01,
                "learning-rate multiplier once re-weighting starts (0.01 in the paper)",
                log=True,
            ),
        ),
    ),
)

_RESHAPED_LOSSES = (
    LossSpec(
        name="poly1",
        family=Family.WEIGHTED,
        tasks=CLASSIFICATION,
        summary="Cross-entropy plus epsilon * (1 - p_t): re-weights the leading polynomial term.",
        reference="Leng et al., PolyLoss: A Polynomial Expansion Perspective of Classification "
        "Loss Functions, ICLR 2022.",
        params=(
            ParamSpec(
                "epsilon",
                -1.0,
                5.0,
                1.0,
                "coefficient of (1 - p_t); -1 is the paper's lower limit, 2 its ImageNet choice",
            ),
        ),
    ),
    LossSpec(
        name="label_smoothing",
        family=Family.WEIGHTED,
        tasks=CLASSIFICATION,
        summary="Cross-entropy against targets mixed with the uniform distribution.",
        reference="Szegedy et al., Rethinking the Inception Architecture for Computer Vision, "
        "CVPR 2016; Müller et al., When Does Label Smoothing Help?, NeurIPS 2019.",
        params=(
            ParamSpec("epsilon", 0.0, 0.3, 0.1, "weight of the uniform distribution (0.1 usual)"),
        ),
    ),
    LossSpec(
        name="asymmetric",
        family=Family.WEIGHTED,
        tasks=SIGMOID_TASKS,
        summary="Focal terms with separate exponents for positives and negatives, and easy "
        "negatives (p < clip) discarded.",
        reference="Ridnik et al., Asymmetric Loss For Multi-Label Classification, ICCV 2021.",
        params=(
            ParamSpec("gamma_pos", 0.0, 1.0, 0.0, "focusing exponent of positives (paper: 0)"),
            ParamSpec("gamma_neg", 0.0, 6.0, 4.0, "focusing exponent of negatives (paper: 4)"),
            ParamSpec("clip", 0.0, 0.2, 0.05, "probability shift of negatives (paper: 0.05)"),
        ),
    ),
)

_REGRESSION_LOSSES = (
    LossSpec(
        name="mape_weighted_mae",
        family=Family.WEIGHTED,
        tasks=REGRESSION,
        summary="Absolute error weighted by 1 / |y| (|y| floored at 1% of its mean): "
        "consistent for MAPE.",
        reference="de Myttenaere et al., Mean Absolute Percentage Error for Regression Models, "
        "Neurocomputing 2016.",
        serves=frozenset({"mape"}),
    ),
)

_COST_WEIGHTED_LOSSES = (
    LossSpec(
        name="cost_weighted_ce",
        family=Family.WEIGHTED,
        tasks=BINARY | MULTICLASS,
        summary="Cross-entropy weighting each example by its true class's mean cost of a "
        "mistake under the metric's cost matrix, mean_{j != y} (C[y, j] - C[y, y]), to a power.",
        reference="Elkan, The Foundations of Cost-Sensitive Learning, IJCAI 2001 (theorem 1: "
        "re-weighting by the costs of mistakes moves the optimal threshold to the cost-optimal "
        "one); Zhou & Liu, On Multi-Class Cost-Sensitive Learning, Comput. Intell. 2010 "
        "(rescaling for several classes).",
        params=(
            ParamSpec(
                "power",
                0.0,
                1.0,
                1.0,
                "exponent on the mistake costs (1: Elkan's re-weighting, 0: plain cross-entropy)",
            ),
        ),
        serves=frozenset({"expected_cost"}),
    ),
)

WEIGHTED_LOSSES: tuple[LossSpec, ...] = (
    *_CLASS_WEIGHTED_LOSSES,
    *_COST_WEIGHTED_LOSSES,
    *_IMBALANCE_LOSSES,
    *_RESHAPED_LOSSES,
    *_REGRESSION_LOSSES,
)
