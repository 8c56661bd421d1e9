"""Classifier training and loading on a tiny separable data set."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ganprobe.config import ClassifierTrainSettings
from ganprobe.errors import ModelError
from ganprobe.models.classifier import load_classifier
from ganprobe.train.classifier import accuracy_per_class, train_classifier
from tests.test_train_gan import write_two_class_npz


def test_accuracy_per_class_exact():
    predicted = torch.tensor([0, 1, 1, 2, 0])
    labels = torch.tensor([0, 1, 0, 2, 0])
    overall, per_class = accuracy_per_class(predicted, labels, 4)
    assert overall == pytest.approx(0.8)
    assert per_class[:3] == pytest.approx([2 / 3, 1.0, 1.0]) and math.isnan(per_class[3])


def test_trains_loads_and_separates_two_classes(tmp_path):
    spec = write_two_class_npz(tmp_path / "d.npz", n=64)
    settings = ClassifierTrainSettings(
        data=spec, test_data=spec, width=4, feature_dim=8, epochs=10, batch_size=16, lr=3e-3
    )
    run = train_classifier(settings, tmp_path / "clf")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_accuracy"] >= 0.9 and summary["num_classes"] == 2
    classifier = load_classifier(run)
    assert load_classifier(f"builtin:{run}").image_shape == (1, 8, 8)
    images = torch.zeros(5, 1, 8, 8)
    assert classifier.predict(images).dtype == torch.int64
    assert classifier.features(images).shape == (5, 8)
    assert (run / "per_class.csv").read_text().startswith("class,name,test_accuracy")
    with pytest.raises(ModelError, match="adapt_images"):
        classifier.features(torch.zeros(2, 3, 8, 8))
    # finished runs are returned as they are
    assert train_classifier(settings, tmp_path / "clf") == run


def test_missing_classifier_is_a_one_line_error(tmp_path):
    with pytest.raises(ModelError, match="train classifier"):
        load_classifier(tmp_path)


def test_quick_settings():
    quick = ClassifierTrainSettings.quick()
    assert quick.epochs < ClassifierTrainSettings().epochs and quick.limit == 10000
