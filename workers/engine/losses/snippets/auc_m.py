"""AUC-M (Yuan et al. 2021), LibAUC's AUCMLoss 'v1' with a fixed class prior p:

(1-p) mean((h-a)^2 [y=1]) + p mean((h-b)^2 [y=0])
  + 2 alpha (p(1-p) margin + mean(p h [y=0] - (1-p) h [y=1])) - p(1-p) alpha^2

h = sigmoid(logit), means over the whole batch, p = the training split's positive fraction.
a, b (descent) and alpha (ascent, kept >= 0) start at 0; call after_step(lr) after each
optimiser step: they take one SGD step of size lr_scale * lr.
"""

import torch


class AUCMLoss:
    def __init__(self, margin: float, lr_scale: float, prior: float) -> None:
        self.margin, self.lr_scale, self.p = margin, lr_scale, prior
        self.a = torch.zeros((), requires_grad=True)
        self.b = torch.zeros((), requires_grad=True)
        self.alpha = torch.zeros((), requires_grad=True)
        self.awaiting_step = False  # a training call came, its after_step not yet

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and logits.requires_grad:
            if self.awaiting_step:
                raise RuntimeError(
                    "AUCMLoss: call loss_fn.after_step(lr) after every optimiser step; two "
                    "training calls came without one, so a, b and alpha did not move"
                )
            self.awaiting_step = True
        p = self.p
        h = torch.sigmoid(logits)
        pos = (targets > 0.5).to(h.dtype)
        neg = 1.0 - pos
        a, b, alpha = (v.to(h.device) for v in (self.a, self.b, self.alpha))
        return (
            (1 - p) * ((h - a) ** 2 * pos).mean()
            + p * ((h - b) ** 2 * neg).mean()
            + 2 * alpha * (p * (1 - p) * self.margin + (p * h * neg - (1 - p) * h * pos).mean())
            - p * (1 - p) * alpha**2
        )

    def after_step(self, lr: float) -> None:
        self.awaiting_step = False
        step = lr * self.lr_scale
        with torch.no_grad():
            for variable, sign in ((self.a, -1.0), (self.b, -1.0), (self.alpha, 1.0)):
                if variable.grad is not None:
                    variable.add_(sign * step * variable.grad)
                    variable.grad = None
            self.alpha.clamp_(min=0.0)


def make_loss(margin: float, lr_scale: float, class_counts: list[float]) -> AUCMLoss:
    prior = class_counts[1] / max(sum(class_counts), 1.0)
    return AUCMLoss(margin, lr_scale, prior)
