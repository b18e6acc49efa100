"""Rectifying the teacher's pseudo-label with the relationship map M(x) (spec 4.3, our reconstruction of the form)."""
import torch

RECTIFY_MODES = ("product", "blend", "none")


def rectify(teacher_probs: torch.Tensor, relationship_map: torch.Tensor, mode: str = "product",
            beta: float = 1.0, eps: float = 1e-8) -> torch.Tensor:
    """Rectified class probabilities p~ (B, C, ...) from the teacher's p_t and M, both (B, C, ...) summing to 1 over C.

    * 'product': p~ = p_t M^beta / sum_c p_t M^beta (a Bayesian-style update: M acts as a likelihood from the
      labeled-data prototypes; where both are confident they must agree, where p_t hesitates M decides);
    * 'blend':   p~ = (1 - beta) p_t + beta M;
    * 'none':    p~ = p_t (ablation)."""
    if mode not in RECTIFY_MODES:
        raise ValueError(f"rectify mode must be one of {RECTIFY_MODES}, got {mode!r}")
    p_t = teacher_probs.float()
    if mode == "none":
        return p_t
    m = relationship_map.float()
    if mode == "blend":
        return (1.0 - beta) * p_t + beta * m
    product = p_t * m.clamp_min(eps) ** beta
    return product / product.sum(1, keepdim=True).clamp_min(eps)
