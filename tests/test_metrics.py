"""Detection metrics against hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest

from ganprobe.errors import GanprobeError
from ganprobe.metrics import detection_metrics, fpr_at_tpr


def _auroc_by_pairs(in_scores: np.ndarray, ood_scores: np.ndarray) -> float:
    diff = ood_scores[:, None] - in_scores[None, :]
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def test_perfect_separation() -> None:
    result = detection_metrics([0.0, 1.0, 2.0], [3.0, 4.0])
    assert result == {"auroc": 1.0, "aupr": 1.0, "fpr_at_95_tpr": 0.0}


def test_reversed_scores() -> None:
    result = detection_metrics([3.0, 4.0], [0.0, 1.0, 2.0])
    assert result["auroc"] == 0.0
    assert result["fpr_at_95_tpr"] == 1.0


def test_auroc_matches_pair_counting_with_ties() -> None:
    rng = np.random.default_rng(0)
    in_scores = rng.integers(0, 5, size=40).astype(float)
    ood_scores = rng.integers(2, 8, size=30).astype(float)
    result = detection_metrics(in_scores, ood_scores)
    assert result["auroc"] == pytest.approx(_auroc_by_pairs(in_scores, ood_scores), abs=1e-12)


def test_aupr_hand_computed() -> None:
    # ranking by score: ood(4), in(3), ood(2), in(1): precision at each positive 1 and 2/3.
    result = detection_metrics([3.0, 1.0], [4.0, 2.0])
    assert result["aupr"] == pytest.approx(0.5 * (1.0 + 2.0 / 3.0))


def test_fpr_at_95_tpr_hand_computed() -> None:
    ood = np.arange(1.0, 21.0)  # 20 OOD scores 1..20; 95% TPR -> threshold = 19th largest = 2
    inside = np.array([0.5, 1.5, 2.0, 2.5, 10.0])  # flagged when >= 2: 2.0, 2.5, 10.0
    assert fpr_at_tpr(inside, ood) == pytest.approx(3 / 5)
    assert detection_metrics(inside, ood)["fpr_at_95_tpr"] == pytest.approx(3 / 5)


def test_bad_input_is_a_user_error() -> None:
    with pytest.raises(GanprobeError, match="in_scores is empty"):
        detection_metrics([], [1.0])
    with pytest.raises(GanprobeError, match="non-finite"):
        detection_metrics([1.0], [np.nan])
