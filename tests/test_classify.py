"""`classify` end to end on a conditional generator with disjoint class manifolds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganprobe.config import ClassifySettings, ProjectionSettings
from ganprobe.errors import GanprobeError
from ganprobe.experiments.classify import confusion_matrix, run_classify
from tests.projection_fakes import TemplateGenerator, single_thread  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("single_thread")
TEMPLATE = "python:tests/projection_fakes.py:make_template"


def _write_npz(path, seed: int, per_class: int = 3) -> None:
    generator = TemplateGenerator()
    labels = torch.arange(4).repeat_interleave(per_class)
    z = torch.randn(labels.numel(), 2, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        images = generator(z, labels)
    np.savez(path, images=images.numpy(), labels=labels.numpy())


def test_confusion_matrix_counts() -> None:
    matrix = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_classify_disjoint_manifolds(tmp_path) -> None:
    _write_npz(tmp_path / "test.npz", seed=1)
    _write_npz(tmp_path / "train.npz", seed=2, per_class=5)
    settings = ClassifySettings(
        generator=TEMPLATE, data=f"npz:{tmp_path / 'test.npz'}",
        train=f"npz:{tmp_path / 'train.npz'}",
        projection=ProjectionSettings(restarts=2, steps=60), shard_size=5,
    )
    summary = run_classify(settings, tmp_path / "run")
    assert summary["accuracy"]["gan_l2"] == 1.0
    assert set(summary["accuracy"]) == {"gan_l2", "nn_l2"}
    assert np.trace(np.array(summary["confusion"]["gan_l2"])) == 12
    assert summary["median_true_class_rmse"] < 0.05
    # validity: images generated under their own class reconstruct under it
    assert summary["validity"]["valid"] and summary["validity"]["generated_median_rmse"] < 0.05
    for name in ("classify.csv", "accuracy.png", "confusion_gan_l2.png", "summary.json"):
        assert (tmp_path / "run" / name).exists()


def test_classify_refuses_unconditional_generator(tmp_path) -> None:
    settings = ClassifySettings(generator="python:tests/projection_fakes.py:make_mlp",
                                data="ood:noise", train="ood:noise")
    with pytest.raises(GanprobeError, match="class-conditional"):
        run_classify(settings, tmp_path / "run")


class _ConstantClassifier:
    """Predicts class 1 for everything; expects 1x4x4 inputs (so images must be adapted)."""

    image_shape = (1, 4, 4)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        assert tuple(x.shape[1:]) == self.image_shape
        return torch.ones(x.shape[0], dtype=torch.int64)


def test_classify_with_classifier_baseline(tmp_path, monkeypatch) -> None:
    import ganprobe.models.classifier as classifier_module

    monkeypatch.setattr(classifier_module, "load_classifier", lambda spec: _ConstantClassifier())
    _write_npz(tmp_path / "test.npz", seed=1, per_class=2)
    settings = ClassifySettings(
        generator=TEMPLATE, data=f"npz:{tmp_path / 'test.npz'}",
        train=f"npz:{tmp_path / 'test.npz'}", classifier="fake",
        projection=ProjectionSettings(restarts=1, steps=5),
    )
    summary = run_classify(settings, tmp_path / "run")
    assert summary["accuracy"]["classifier"] == pytest.approx(0.25)
    assert summary["accuracy"]["nn_l2"] == 1.0  # every test image is in the reference
    assert np.array(summary["confusion"]["classifier"])[:, 1].sum() == 8
