"""The dual-network method's loss terms (spec: shared/specs/methods.md section 5.3), one function each, on plain
tensors: logits / probabilities (B, C, ...), integer labels (B, 1, ...), voxel masks (B, 1, ...).

Gradients: every term is built from the live logits / features it trains, never from detached copies or under
no_grad (the released code's defect (a)); only what is a target by definition is detached: the CR confidence mask,
pseudo-labels, entropy filters, the KL teacher and (by default) the prototypes.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from nnunetv2_pscm.components.boundary import one_hot
from nnunetv2_pscm.components.prototypes import class_prototypes
from nnunetv2_pscm.components.uncertainty import normalized_entropy, percentile


# ---------------------------------------------------------------- supervised: consistency regularisation (CR)
def confident_foreground_xor(probs_a: torch.Tensor, probs_b: torch.Tensor, threshold: float) -> torch.Tensor:
    """(B, C-1, ...) float mask, per foreground class c: 1 where exactly one net has p_c >= threshold (MCF's CR
    mask with the released code's 0.6 confidence). Detached: it selects voxels, it is not trained."""
    confident_a = probs_a.detach()[:, 1:] >= threshold
    confident_b = probs_b.detach()[:, 1:] >= threshold
    return (confident_a ^ confident_b).float()


def consistency_regularisation(probs: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sum_{c>=1, v} M_c(v) (p_c(v) - [y(v) = c])^2 / sum M, i.e. the released code's
    sum M (p_fg - y)^2 / sum M for one foreground class, pooled over the foreground classes; 0 for an empty mask."""
    target = one_hot(labels, probs.shape[1])[:, 1:]
    squared = (probs[:, 1:].float() - target) ** 2
    return (mask * squared).sum() / mask.sum().clamp_min(1.0)


# ---------------------------------------------------------------- cross-consistency enhancement (CCE)
def union_pseudo_labels(probs_a: torch.Tensor, probs_b: torch.Tensor) -> torch.Tensor:
    """One shared target (the released code's): background where both nets predict background, else a foreground
    class: that of the net predicting foreground, or, when both do, that of the more confident net. Binary: the
    union of the two foreground masks."""
    conf_a, label_a = probs_a.detach().max(1, keepdim=True)
    conf_b, label_b = probs_b.detach().max(1, keepdim=True)
    fg_a, fg_b = label_a > 0, label_b > 0
    both = torch.where(conf_a >= conf_b, label_a, label_b)
    return torch.where(fg_a & fg_b, both, torch.where(fg_a, label_a, torch.where(fg_b, label_b, 0)))


def cross_pseudo_labels(probs_a: torch.Tensor, probs_b: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Cross pseudo supervision (the paper's wording): (target of net a, target of net b) = (argmax p_b, argmax p_a)."""
    return probs_b.detach().argmax(1, keepdim=True), probs_a.detach().argmax(1, keepdim=True)


def entropy_keep_mask(probs_a: torch.Tensor, probs_b: torch.Tensor, q: float) -> torch.Tensor:
    """(B, 1, ...) bool: a voxel is dropped iff BOTH nets' entropies are at or above their own q-th percentile over
    the batch; kept otherwise. Entropies of PROBABILITIES (the released code took one from logits: defect (b))."""
    h_a, h_b = normalized_entropy(probs_a.detach().float()), normalized_entropy(probs_b.detach().float())
    return (h_a < percentile(h_a, q)) | (h_b < percentile(h_b, q))


def filtered_cross_entropy(logits: torch.Tensor, pseudo_labels: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(N_all / N_kept) * mean over kept voxels of CE(logits, pseudo-label) (U2PL's re-weighting of an ignore-index
    CE, as the code does it); 0 when nothing is kept."""
    ce = F.cross_entropy(logits.float(), pseudo_labels[:, 0].long(), reduction="none")
    kept = keep[:, 0].float()
    n_kept = kept.sum().clamp_min(1.0)
    return (kept.numel() / n_kept) * (kept * ce).sum() / n_kept


# ---------------------------------------------------------------- uncertainty-aware KL weighting, agreement
def kl_weighted_pseudo_label_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor
                                  ) -> Tuple[torch.Tensor, torch.Tensor]:
    """URPC-style rectification: KL_v = sum_c p_t log(p_t / p_s), w_v = exp(-KL_v),
    L = mean_v w_v CE(z_s(v), argmax p_t(v)) + mean_v KL_v. The teacher is detached (no gradient reaches it); the
    weight is not (as in URPC: the student may lower w by disagreeing, which the mean-KL term charges for).
    Returns (L, mean KL)."""
    log_p_s = torch.log_softmax(student_logits.float(), 1)
    teacher = teacher_logits.detach().float()
    log_p_t = torch.log_softmax(teacher, 1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(1)
    ce = F.nll_loss(log_p_s, teacher.argmax(1), reduction="none")
    mean_kl = kl.mean()
    return (torch.exp(-kl) * ce).mean() + mean_kl, mean_kl


def cosine_disagreement(probs_a: torch.Tensor, probs_b: torch.Tensor) -> torch.Tensor:
    """mean_v (1 - cos(p_a(v), p_b(v))) over the class axis; gradient to both nets."""
    return (1.0 - F.cosine_similarity(probs_a.float(), probs_b.float(), dim=1, eps=1e-8)).mean()


# ---------------------------------------------------------------- prototype contrast on uncertain voxels
def sample_candidates(uncertain: torch.Tensor, predicted: torch.Tensor, num_classes: int, fraction: float,
                      generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Flat voxel indices and classes of the contrast candidates: uncertain voxels split by the learner's own
    prediction; n = max(1, floor(fraction * number of uncertain foreground voxels)) per class (the code: 1 % of the
    uncertain foreground, the same n for background), fewer where a class has fewer. fraction >= 1 takes all."""
    flat_unc, flat_pred = uncertain.reshape(-1), predicted.reshape(-1)
    n_unc_fg = int((flat_unc & (flat_pred > 0)).sum())
    n = max(1, int(fraction * n_unc_fg))
    indices, classes = [], []
    for c in range(num_classes):
        where = torch.nonzero(flat_unc & (flat_pred == c)).flatten()
        if where.numel() == 0:
            continue
        if fraction < 1 and where.numel() > n:
            where = where[torch.randperm(where.numel(), generator=generator)[:n].to(where.device)]
        indices.append(where)
        classes.append(torch.full_like(where, c))
    if not indices:
        empty = torch.zeros(0, dtype=torch.long, device=uncertain.device)
        return empty, empty
    return torch.cat(indices), torch.cat(classes)


def prototype_contrast(features: torch.Tensor, reliable_labels: torch.Tensor, reliable: torch.Tensor,
                       candidate_index: torch.Tensor, candidate_class: torch.Tensor, num_classes: int,
                       loss: str = "infonce", temperature: float = 0.07, margin: float = 1.0,
                       detach_prototypes: bool = True) -> Optional[torch.Tensor]:
    """Pull each candidate's L2-normalised feature towards its own class prototype and push it from the others.

    features (B, F, ...); prototypes P_c = mean feature of the reliable voxels labeled c (pooled over the batch),
    L2-normalised; candidates are flat voxel indices into (B, ...) with a class each.
    * 'infonce': mean_i -log softmax_k(r_i . P_k / T)[c_i] over the classes that have a prototype;
    * 'margin':  mean_i ||r_i - P_{c_i}|| + mean_{i, k != c_i} max(0, margin - ||r_i - P_k||).
    The released code ADDED the distance between the fg and bg prototypes, so minimising it pulled the classes
    together (defect (c)); both forms here push classes apart. None when fewer than two classes have a prototype or
    no candidate belongs to one (nothing to contrast)."""
    if loss not in ("infonce", "margin"):
        raise ValueError(f"prototype contrast loss must be 'infonce' or 'margin', got {loss!r}")
    n_feat = features.shape[1]
    flat = features.movedim(1, -1).reshape(-1, n_feat)  # (B * V, F), voxel order of reshape(-1) on (B, 1, ...)
    keep = reliable.reshape(-1)
    prototypes, present = class_prototypes(flat[keep].T[None].float(), reliable_labels.reshape(-1)[keep][None, None],
                                           num_classes)
    if detach_prototypes:
        prototypes = prototypes.detach()
    usable = present[candidate_class]
    if int(present.sum()) < 2 or not bool(usable.any()):
        return None
    classes = torch.nonzero(present).flatten()
    remap = torch.full((num_classes,), -1, dtype=torch.long, device=features.device)
    remap[classes] = torch.arange(len(classes), device=features.device)
    r = F.normalize(flat[candidate_index[usable]].float(), dim=1)
    p = F.normalize(prototypes[classes], dim=1)
    own = remap[candidate_class[usable]]
    if loss == "infonce":
        return F.cross_entropy(r @ p.T / temperature, own)
    distances = torch.cdist(r, p)  # (N, K)
    is_own = F.one_hot(own, len(classes)).bool()
    pull = distances[is_own].mean()
    push = torch.relu(margin - distances[~is_own]).mean()
    return pull + push
