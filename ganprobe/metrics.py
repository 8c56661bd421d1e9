"""Detection metrics for outlier scores.

Convention: a HIGHER score means MORE likely out-of-distribution (OOD is the positive class).
For a projection distance or a 1-NN distance the score is the distance itself; for a density
model it is -log_px.

- auroc: probability that a random OOD score exceeds a random in-distribution score (ties count
  one half); 1 = perfect separation, 0.5 = chance, 0 = perfectly reversed.
- aupr: average precision with OOD as the positive class (area under precision-recall).
- fpr_at_95_tpr: fraction of in-distribution samples flagged as OOD at the highest threshold t
  that still flags at least 95% of the OOD samples (score >= t counts as flagged).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from .errors import GanprobeError

TPR_LEVEL = 0.95


def _as_scores(scores: np.ndarray | torch.Tensor | list[float], name: str) -> np.ndarray:
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    array = np.asarray(scores, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise GanprobeError(f"{name} is empty; give at least one score per group")
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise GanprobeError(f"{name} has {bad} non-finite scores; remove or fix them first")
    return array


def fpr_at_tpr(in_scores: np.ndarray, ood_scores: np.ndarray, tpr: float = TPR_LEVEL) -> float:
    """FPR at the highest threshold whose TPR is at least `tpr` (flag OOD when score >= t).

    in_scores [N_in], ood_scores [N_ood] (higher = more OOD). The threshold is the k-th largest
    OOD score with k = ceil(tpr * N_ood), the largest t with mean(ood >= t) >= tpr.
    """
    in_scores = _as_scores(in_scores, "in_scores")
    ood_scores = _as_scores(ood_scores, "ood_scores")
    k = max(1, math.ceil(tpr * ood_scores.size - 1e-9))
    threshold = np.sort(ood_scores)[::-1][k - 1]
    return float(np.mean(in_scores >= threshold))


def detection_metrics(
    in_scores: np.ndarray | torch.Tensor | list[float],
    ood_scores: np.ndarray | torch.Tensor | list[float],
) -> dict[str, float]:
    """AUROC, AUPR and FPR@95%TPR of OOD detection by score (higher = more likely OOD).

    in_scores: [N_in] scores of in-distribution samples; ood_scores: [N_ood] scores of OOD
    samples. Returns {"auroc", "aupr", "fpr_at_95_tpr"}, each a float in [0, 1].
    """
    in_array = _as_scores(in_scores, "in_scores")
    ood_array = _as_scores(ood_scores, "ood_scores")
    labels = np.concatenate([np.zeros(in_array.size), np.ones(ood_array.size)])
    scores = np.concatenate([in_array, ood_array])
    return {
        "auroc": float(roc_auc_score(labels, scores)),
        "aupr": float(average_precision_score(labels, scores)),
        "fpr_at_95_tpr": fpr_at_tpr(in_array, ood_array, TPR_LEVEL),
    }
