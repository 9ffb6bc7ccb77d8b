"""Building a catalogue entry's loss module: where the torch-free catalogue meets torch code.

The catalogue (:mod:`workers.engine.losses.catalogue`) says what each loss is; the modules
gathered here say how to build it, each as a ``{name: builder}`` map. :data:`IMPLEMENTATIONS`
joins them by name, and the conformance test holds it to the catalogue, entry for entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import Tensor

from workers.engine.losses.base import Loss, LossBuilder, LossContext
from workers.engine.losses.catalogue.entry import LossSpec
from workers.engine.losses.cost_sensitive import COST_SURROGATE_BUILDERS, COST_WEIGHTED_BUILDERS
from workers.engine.losses.mixture import mixture_builders
from workers.engine.losses.proxy import PROXY_BUILDERS
from workers.engine.losses.proxy_margin import MARGIN_BUILDERS
from workers.engine.losses.proxy_regression import REGRESSION_PROXY_BUILDERS
from workers.engine.losses.proxy_robust import ROBUST_BUILDERS
from workers.engine.losses.surrogates.agreement import AGREEMENT_BUILDERS
from workers.engine.losses.surrogates.auc_margin import AUC_MARGIN_BUILDERS
from workers.engine.losses.surrogates.constrained import CONSTRAINED_BUILDERS
from workers.engine.losses.surrogates.f_scores import F_SCORE_BUILDERS
from workers.engine.losses.surrogates.lovasz import LOVASZ_BUILDERS
from workers.engine.losses.surrogates.overlap import OVERLAP_BUILDERS
from workers.engine.losses.surrogates.ranking import RANKING_BUILDERS
from workers.engine.losses.surrogates.regression import REGRESSION_SURROGATE_BUILDERS
from workers.engine.losses.weighted import WEIGHTED_BUILDERS
from workers.engine.losses.weighted_imbalance import IMBALANCE_BUILDERS
from workers.engine.losses.weighted_regression import REGRESSION_WEIGHTED_BUILDERS
from workers.engine.losses.weighted_reshaped import RESHAPED_BUILDERS


def _joined(groups: Iterable[Mapping[str, LossBuilder]]) -> dict[str, LossBuilder]:
    # Joining with dict unpacking would let a second builder under one name silently win.
    joined: dict[str, LossBuilder] = {}
    for group in groups:
        for name, builder in group.items():
            if name in joined:
                raise ValueError(f"loss {name!r} has two implementations")
            joined[name] = builder
    return joined


SURROGATE_BUILDERS: tuple[Mapping[str, LossBuilder], ...] = (
    F_SCORE_BUILDERS,
    OVERLAP_BUILDERS,
    LOVASZ_BUILDERS,
    AGREEMENT_BUILDERS,
    RANKING_BUILDERS,
    AUC_MARGIN_BUILDERS,
    CONSTRAINED_BUILDERS,
    REGRESSION_SURROGATE_BUILDERS,
    COST_SURROGATE_BUILDERS,
)

# Every module's builders as it declares them (the conformance test counts names across them).
BUILDER_GROUPS: tuple[Mapping[str, LossBuilder], ...] = (
    PROXY_BUILDERS,
    MARGIN_BUILDERS,
    REGRESSION_PROXY_BUILDERS,
    ROBUST_BUILDERS,
    WEIGHTED_BUILDERS,
    IMBALANCE_BUILDERS,
    RESHAPED_BUILDERS,
    REGRESSION_WEIGHTED_BUILDERS,
    COST_WEIGHTED_BUILDERS,
    *SURROGATE_BUILDERS,
    mixture_builders(_joined(SURROGATE_BUILDERS)),
)

IMPLEMENTATIONS: dict[str, LossBuilder] = _joined(BUILDER_GROUPS)


def build_loss(spec: LossSpec, params: Mapping[str, Tensor], ctx: LossContext) -> Loss:
    """The loss module of catalogue entry ``spec`` for a group of members.

    ``params`` holds each of the entry's parameters for ``ctx.task`` as a tensor of shape
    ``(M,)``, one value per member.
    """
    try:
        builder = IMPLEMENTATIONS[spec.name]
    except KeyError:
        raise LookupError(
            f"loss {spec.name!r} is in the catalogue but has no implementation"
        ) from None
    return builder(params, ctx)
