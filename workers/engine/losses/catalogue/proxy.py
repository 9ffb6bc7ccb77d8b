"""Proxy losses: the standard, metric-agnostic training objectives.

Cross-entropy and MSE (the baselines), MAE and Huber; margin and square losses for
classification; log-cosh, pinball and Poisson NLL for regression. Implementations:
:mod:`~workers.engine.losses.proxy`, :mod:`~workers.engine.losses.proxy_margin` and
:mod:`~workers.engine.losses.proxy_regression`.
"""

from __future__ import annotations

from workers.engine.losses.catalogue.entry import (
    CLASSIFICATION,
    LOG_LINK,
    REGRESSION,
    LossSpec,
    ParamSpec,
)
from workers.engine.losses.catalogue.surrogate_ranking import RANKING_METRICS
from workers.engine.metrics import METRICS
from workers.engine.spec import Family, Task

# Metrics that score the predicted probabilities themselves rather than their order or arg-max.
CALIBRATION_METRICS = frozenset({"log_loss", "brier", "ece", "kl_divergence"})


def metrics_without_calibration(tasks: frozenset[Task]) -> frozenset[str]:
    """Every metric of ``tasks`` except those that need calibrated probabilities."""
    return frozenset(
        name
        for name, metric in METRICS.items()
        if metric.tasks & tasks and name not in CALIBRATION_METRICS
    )


_STANDARD_LOSSES = (
    LossSpec(
        name="cross_entropy",
        family=Family.PROXY,
        tasks=CLASSIFICATION,
        summary="Binary cross-entropy on one logit, or softmax cross-entropy (against each "
        "row's distribution for soft targets); the baseline.",
        reference="Maximum-likelihood training objective; Goodfellow et al., Deep Learning, "
        "2016, §6.2.",
        soft_targets=True,
    ),
    LossSpec(
        name="brier",
        family=Family.PROXY,
        tasks=CLASSIFICATION,
        summary="Brier score of the sigmoid or softmax probabilities: strictly proper like "
        "cross-entropy, but bounded, so a confidently wrong row cannot dominate.",
        reference="Brier, Verification of Forecasts Expressed in Terms of Probability, Monthly "
        "Weather Review 1950; sklearn.metrics.brier_score_loss.",
        # Calibrated probabilities, and the plain decision they give at 1/2 or arg-max.
        serves=CALIBRATION_METRICS | frozenset({"accuracy"}),
        soft_targets=True,
    ),
    LossSpec(
        name="kl_divergence",
        family=Family.PROXY,
        tasks=frozenset({Task.MULTICLASS}),
        summary="KL divergence from each row's label distribution (soft targets) to the softmax: "
        "soft cross-entropy minus the targets' entropy, the same gradient but 0 at a perfect "
        "fit. Soft-target jobs only: on hard labels it is cross_entropy exactly.",
        reference="Kullback and Leibler, On Information and Sufficiency, Ann. Math. Statist. "
        "1951; Hinton et al., Distilling the Knowledge in a Neural Network, 2015; "
        "torch.nn.functional.kl_div.",
        serves=frozenset({"kl_divergence", "log_loss"}),
        soft_targets=True,
        soft_only=True,
    ),
    LossSpec(
        name="mse",
        family=Family.PROXY,
        tasks=REGRESSION,
        summary="Mean squared error on the standardised target; the regression baseline.",
        reference="Least squares (Legendre 1805; Gauss 1809).",
    ),
    LossSpec(
        name="mae",
        family=Family.PROXY,
        tasks=REGRESSION,
        summary="Mean absolute error: consistent for the conditional median.",
        reference="Least absolute deviations (Boscovich 1757; Laplace 1788).",
    ),
    LossSpec(
        name="huber",
        family=Family.PROXY,
        tasks=REGRESSION,
        summary="Quadratic near zero, linear beyond delta (in standard deviations of the target).",
        reference="Huber, Robust Estimation of a Location Parameter, Ann. Math. Statist. 1964.",
        params=(
            ParamSpec(
                "delta", 0.1, 3.0, 1.0, "switch point, in target standard deviations", log=True
            ),
        ),
    ),
)


def _hinge(power: int) -> LossSpec:
    # Multiclass is torch's multi_margin_loss: Weston & Watkins's sum over the wrong classes
    # (not Crammer & Singer's max), divided by the number of classes.
    reference = (
        "Cortes & Vapnik, Support-Vector Networks, Machine Learning 1995; Weston & Watkins, "
        "Support Vector Machines for Multi-Class Pattern Recognition, ESANN 1999"
    )
    if power == 1:
        summary = "Hinge loss max(0, margin - s z) on the logits"
    else:
        summary = "Squared hinge loss max(0, margin - s z)^2 on the logits"
        reference += "; Tang, Deep Learning using Linear Support Vector Machines, 2013"
    return LossSpec(
        name="hinge" if power == 1 else "squared_hinge",
        family=Family.PROXY,
        tasks=CLASSIFICATION,
        summary=f"{summary} (multiclass: sum over the wrong classes j of the hinge of "
        "margin - z_y + z_j, divided by the number of classes, as torch's multi_margin_loss); a "
        "margin classifier, not calibrated"
        + ("" if power == 2 else ", and no ranker (its minimiser is sign(2p - 1))")
        + ".",
        reference=f"{reference}.",
        params=(
            ParamSpec(
                "margin",
                0.25,
                4.0,
                1.0,
                "required logit margin (1 in the SVM literature; with unnormalised logits it "
                "sets the logit scale)",
                log=True,
            ),
        ),
        # The hinge's population minimiser is sign(2p - 1): it keeps which side of 1/2 a row is
        # on and discards the ranking that roc_auc and pr_auc score (the squared hinge's, 2p - 1,
        # keeps it).
        serves=metrics_without_calibration(CLASSIFICATION)
        - (RANKING_METRICS if power == 1 else frozenset()),
    )


_MARGIN_LOSSES = (
    _hinge(1),
    _hinge(2),
    LossSpec(
        name="mse_onehot",
        family=Family.PROXY,
        tasks=CLASSIFICATION,
        summary="Square loss of the logits against one-hot (multiclass) or ±1 (binary, "
        "per label) targets, without softmax; not calibrated.",
        reference="Hui & Belkin, Evaluation of Neural Architectures Trained with Square Loss vs "
        "Cross-Entropy in Classification Tasks, ICLR 2021.",
        serves=metrics_without_calibration(CLASSIFICATION),
    ),
)

# Label metrics only: a noise-robust loss trades calibration and ranking for robustness to
# mislabelled rows.
NOISY_LABEL_METRICS = frozenset(
    {"accuracy", "balanced_accuracy", "f1", "fbeta", "macro_f1", "micro_f1", "samples_f1"}
    | {"weighted_f1", "subset_accuracy", "hamming_loss"}
)

_ROBUST_LOSSES = (
    LossSpec(
        name="generalized_ce",
        family=Family.PROXY,
        tasks=CLASSIFICATION,
        summary="Generalised cross-entropy (1 - p_y^q) / q: cross-entropy as q -> 0, the mean "
        "absolute error of the probabilities at q = 1; bounded, so mislabelled rows weigh less.",
        reference="Zhang & Sabuncu, Generalized Cross Entropy Loss for Training Deep Neural "
        "Networks with Noisy Labels, NeurIPS 2018.",
        params=(ParamSpec("q", 0.1, 1.0, 0.7, "truncation: 0 is cross-entropy, 1 is MAE"),),
        serves=NOISY_LABEL_METRICS,
    ),
    LossSpec(
        name="symmetric_ce",
        family=Family.PROXY,
        tasks=CLASSIFICATION,
        summary="Symmetric cross-entropy alpha CE + beta RCE, with the reverse cross-entropy "
        "RCE = 4 (1 - p_y) (log 0 taken as -4), robust to label noise.",
        reference="Wang, Ma, Chen, Luo, Yi & Bailey, Symmetric Cross Entropy for Robust Learning "
        "with Noisy Labels, ICCV 2019.",
        params=(
            ParamSpec("alpha", 0.01, 1.0, 0.1, "weight of cross-entropy", log=True),
            ParamSpec("beta", 0.1, 1.0, 1.0, "weight of the reverse cross-entropy", log=True),
        ),
        serves=NOISY_LABEL_METRICS,
    ),
    LossSpec(
        name="bi_tempered",
        family=Family.PROXY,
        tasks=CLASSIFICATION,
        summary="Bi-tempered logistic loss: the tempered-log (t1) Bregman divergence to a "
        "heavy-tailed tempered softmax (t2); bounded by 1 / (1 - t1) for t1 < 1, cross-entropy "
        "at t1 = t2 = 1.",
        reference="Amid, Warmuth, Anil & Koren, Robust Bi-Tempered Logistic Loss Based on "
        "Bregman Divergences, NeurIPS 2019.",
        params=(
            ParamSpec("t1", 0.5, 1.0, 0.8, "log temperature: below 1 bounds the loss, 1 is log"),
            ParamSpec("t2", 1.0, 4.0, 1.2, "softmax temperature: above 1 gives heavy tails"),
        ),
        serves=NOISY_LABEL_METRICS,
    ),
)

_REGRESSION_LOSSES = (
    LossSpec(
        name="log_cosh",
        family=Family.PROXY,
        tasks=REGRESSION,
        summary="log(cosh(residual)): quadratic near zero, linear for large residuals, smooth.",
        reference="Chen et al., Log Hyperbolic Cosine Loss Improves Variational Auto-Encoder, "
        "2019; Saleh & Saleh, Statistical Properties of the log-cosh Loss Function Used in "
        "Machine Learning, 2022.",
    ),
    LossSpec(
        name="pseudo_huber",
        family=Family.PROXY,
        tasks=REGRESSION,
        summary="delta^2 (sqrt(1 + (residual / delta)^2) - 1): Huber's shape (quadratic near "
        "zero, linear beyond delta, in target standard deviations) without its kink.",
        reference="Charbonnier, Blanc-Féraud, Aubert & Barlaud, Two Deterministic Half-Quadratic "
        "Regularization Algorithms for Computed Imaging, ICIP 1994; Hartley & Zisserman, "
        "Multiple View Geometry, 2nd ed., 2003, §A6.8.",
        params=(
            ParamSpec(
                "delta",
                0.1,
                3.0,
                1.0,
                "scale of the switch, in target standard deviations",
                log=True,
            ),
        ),
    ),
    LossSpec(
        name="pinball",
        family=Family.PROXY,
        tasks=REGRESSION,
        summary="Pinball (quantile) loss: consistent for the conditional tau-quantile.",
        reference="Koenker & Bassett, Regression Quantiles, Econometrica 1978.",
        # The pinball metric's quantile range; for that metric planning fixes tau at its
        # quantile (workers.engine.planning.implied_params).
        params=(ParamSpec("tau", 0.01, 0.99, 0.5, "quantile level the prediction targets"),),
    ),
    LossSpec(
        name="poisson_nll",
        family=Family.PROXY,
        tasks=REGRESSION,
        summary="Poisson negative log-likelihood with a log link, for non-negative targets.",
        reference="McCullagh & Nelder, Generalized Linear Models, 2nd ed., 1989, §6.2; "
        "torch.nn.functional.poisson_nll_loss.",
        serves=frozenset({"poisson_deviance"}),
        link=LOG_LINK,
    ),
    LossSpec(
        name="msle",
        family=Family.PROXY,
        tasks=REGRESSION,
        summary="Squared logarithmic error with a log link: relative errors, for non-negative "
        "targets such as counts, prices and amounts.",
        reference="scikit-learn, sklearn.metrics.mean_squared_log_error (the loss is that "
        "metric of the prediction); log link as in McCullagh & Nelder, Generalized Linear "
        "Models, 2nd ed., 1989.",
        serves=frozenset({"msle", "rmsle"}),
        link=LOG_LINK,
    ),
)

PROXY_LOSSES: tuple[LossSpec, ...] = (
    *_STANDARD_LOSSES,
    *_MARGIN_LOSSES,
    *_ROBUST_LOSSES,
    *_REGRESSION_LOSSES,
)
