"""Surrogates for metrics of the scores' order: ROC and PR AUC, and recall or precision at a
floor on the other (all three read the ranking of the scores at some operating point).

Implementations: :mod:`~workers.engine.losses.surrogates.ranking`,
:mod:`~workers.engine.losses.surrogates.auc_margin` and
:mod:`~workers.engine.losses.surrogates.constrained`.
"""

from __future__ import annotations

from workers.engine.losses.catalogue.entry import BINARY, SIGMOID_TASKS, LossSpec, ParamSpec
from workers.engine.spec import Family

RANKING_METRICS = frozenset({"roc_auc", "pr_auc", "macro_roc_auc"})
RECALL_AT_PRECISION, PRECISION_AT_RECALL = "recall_at_precision", "precision_at_recall"

_GAO_ZHOU = "Gao & Zhou, On the Consistency of AUC Pairwise Optimization, IJCAI 2015."

_PAIRWISE_LOSSES = (
    LossSpec(
        name="pairwise_auc",
        family=Family.SURROGATE,
        tasks=SIGMOID_TASKS,
        summary="Logistic loss on every positive-negative logit difference in the batch.",
        reference=_GAO_ZHOU,
        serves=RANKING_METRICS,
        batch_level=True,
    ),
    LossSpec(
        name="pairwise_auc_exp",
        family=Family.SURROGATE,
        tasks=SIGMOID_TASKS,
        summary="Exponential loss (RankBoost) on every positive-negative logit difference.",
        reference=_GAO_ZHOU + " Freund et al., An Efficient Boosting Algorithm for Combining "
        "Preferences, JMLR 2003.",
        serves=RANKING_METRICS,
        batch_level=True,
    ),
    LossSpec(
        name="pairwise_auc_sqhinge",
        family=Family.SURROGATE,
        tasks=SIGMOID_TASKS,
        summary="Squared hinge max(0, margin - t)^2 on every positive-negative logit difference.",
        reference=_GAO_ZHOU,
        params=(
            ParamSpec("margin", 0.1, 4.0, 1.0, "logit difference a pair must reach", log=True),
        ),
        serves=RANKING_METRICS,
        batch_level=True,
    ),
    LossSpec(
        name="smooth_ap",
        family=Family.SURROGATE,
        tasks=BINARY,
        summary="1 - Smooth-AP: average precision with sigmoid-relaxed ranks of probabilities.",
        reference="Brown, Xie, Kalogeiton & Zisserman, Smooth-AP: Smoothing the Path Towards "
        "Large-Scale Image Retrieval, ECCV 2020.",
        params=(
            ParamSpec("temperature", 1e-3, 0.1, 0.01, "sigmoid temperature of ranks", log=True),
        ),
        serves=frozenset({"pr_auc"}),
        batch_level=True,
    ),
)

_AUC_MARGIN_LOSSES = (
    LossSpec(
        name="auc_m",
        family=Family.SURROGATE,
        tasks=BINARY,
        summary="AUC-margin min-max loss on sigmoid scores, with its own a, b and dual alpha.",
        reference="Yuan, Yan, Sonka & Yang, Large-scale Robust Deep AUC Maximization: A New "
        "Surrogate Loss and Empirical Studies on Medical Image Classification, ICCV 2021.",
        params=(
            # LibAUC: tune the margin in (0, 1], e.g. 0.6, 0.8, 1.0.
            ParamSpec("margin", 0.1, 1.0, 1.0, "margin m between positive and negative scores"),
            ParamSpec(
                "lr_scale",
                1.0,
                100.0,
                10.0,
                "step of a, b, alpha in member learning rates",
                log=True,
            ),
        ),
        serves=frozenset({"roc_auc"}),
        batch_level=True,
    ),
)

_EBAN = (
    "Eban, Schain, Mackey, Gordon, Saurous & Elidan, Scalable Learning of Non-Decomposable "
    "Objectives, AISTATS 2017."
)
_DUAL_SCALE = ParamSpec(
    "dual_scale", 1.0, 100.0, 10.0, "dual ascent step on lambda, in member learning rates", log=True
)

_CONSTRAINED_LOSSES = (
    LossSpec(
        name="eban_recall_at_precision",
        family=Family.SURROGATE,
        tasks=BINARY,
        summary="Hinge-bound Lagrangian of max recall s.t. precision >= min_precision.",
        reference=_EBAN,
        params=(_DUAL_SCALE,),
        serves=frozenset({RECALL_AT_PRECISION}),
        batch_level=True,
    ),
    LossSpec(
        name="eban_precision_at_recall",
        family=Family.SURROGATE,
        tasks=BINARY,
        summary="Hinge-bound Lagrangian of max precision s.t. recall >= min_recall.",
        reference=_EBAN,
        params=(_DUAL_SCALE,),
        serves=frozenset({PRECISION_AT_RECALL}),
        batch_level=True,
    ),
)

RANKING_LOSSES: tuple[LossSpec, ...] = (
    *_PAIRWISE_LOSSES,
    *_AUC_MARGIN_LOSSES,
    *_CONSTRAINED_LOSSES,
)
