"""Generator quality in a classifier's feature space.

Frechet distance between Gaussians fitted to features phi(x) of two image sets,
    FD = ||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2}),
(the FID formula, with ganprobe's classifier instead of Inception: numbers are comparable only
between runs that use the same classifier). `run_quality` reports FD(samples, data), the floor
FD(reference, data) of two real sets of the same size (e.g. train vs test), and, for
class-conditional generators, the classifier's accuracy on each class's samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import ClassifierTrainSettings, QualitySettings
from ..errors import ModelError
from ..parallel import run_sharded
from ..store import RunStore
from ..utils import resolve_device, torch_generator
from .classifier import Classifier, load_classifier

COMMAND = "models quality"


def sample_images(
    generator: Any, n: int, rng: torch.Generator, batch_size: int = 250
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n samples G(z), z ~ p(z): (images [n, C, H, W] on the CPU, labels int64 [n] cycling
    0, 1, ..., K-1 for conditional generators, else None)."""
    labels = torch.arange(n) % generator.num_classes if generator.num_classes else None
    chunks = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            z = generator.sample_latent(min(batch_size, n - start), rng)
            if labels is None:
                chunks.append(generator(z).cpu())
            else:
                chunks.append(generator(z, labels[start : start + len(z)].to(z.device)).cpu())
    return torch.cat(chunks), labels


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [F], covariance [F, F]) of features [N, F] in float64 (unbiased covariance)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need features [N >= 2, F] (got shape {features.shape})")
    return features.mean(0), np.cov(features, rowvar=False)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(
    mu_1: np.ndarray, cov_1: np.ndarray, mu_2: np.ndarray, cov_2: np.ndarray
) -> float:
    """Frechet (2-Wasserstein squared) distance between N(mu_1, cov_1) and N(mu_2, cov_2);
    tr((S1 S2)^{1/2}) is computed as the trace of the PSD root of S1^{1/2} S2 S1^{1/2}."""
    root_1 = _sqrt_psd(np.asarray(cov_1, dtype=np.float64))
    middle = root_1 @ np.asarray(cov_2, dtype=np.float64) @ root_1
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = np.asarray(mu_1, dtype=np.float64) - np.asarray(mu_2, dtype=np.float64)
    return float(diff @ diff + np.trace(cov_1) + np.trace(cov_2) - 2 * cross)


def feature_frechet_distance(features_1: np.ndarray, features_2: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to features [N1, F] and [N2, F]."""
    return frechet_distance(*gaussian_statistics(features_1), *gaussian_statistics(features_2))


def default_classifier(device: str = "cpu") -> Classifier:
    """The default-study classifier (ClassifierTrainSettings()), trained once and cached."""
    from ..train.cache import cached_run
    from ..train.classifier import train_classifier

    settings = ClassifierTrainSettings()
    run_dir = cached_run(
        "classifier", settings, lambda directory: train_classifier(settings, directory, device)
    )
    return load_classifier(run_dir, device=device)


def _data_features(store: RunStore, name: str, spec: str, settings, classifier) -> np.ndarray:
    from ..data import load_images

    images = load_images(
        spec, limit=settings.samples, seed=settings.seed, shape=classifier.image_shape
    ).images
    device = next(classifier.parameters()).device
    arrays = run_sharded(
        store,
        name,
        len(images),
        settings.batch_size * 4,
        lambda a, b: {"features": classifier.features_batched(images[a:b].to(device)).cpu()},
        description=f"features of {spec}",
    )
    return arrays["features"]


def run_quality(settings: QualitySettings, out: Path) -> dict[str, Any]:
    """Measure the quality of `settings.generator` (see module docstring); write summary.json,
    per_class.csv (conditional) and samples.png into `out`; return the summary dict."""
    from ..data import adapt_images, save_image_grid
    from .loading import load_generator

    out = Path(out)
    store = RunStore.open(out, COMMAND, settings, seed=settings.seed)
    device = str(resolve_device(settings.device))
    generator = load_generator(settings.generator, device, trust_pickle=settings.trust_pickle)
    if settings.classifier:
        classifier = load_classifier(settings.classifier, device=device)
    else:
        classifier = default_classifier(device)
    conditional = generator.num_classes > 0
    if conditional and generator.num_classes != classifier.num_classes:
        raise ModelError(
            f"generator {settings.generator} has {generator.num_classes} classes but the "
            f"classifier has {classifier.num_classes}; pass a matching --classifier"
        )

    def sample_shard(start: int, stop: int) -> dict[str, np.ndarray]:
        labels = None
        if conditional:
            labels = torch.arange(start, stop) % generator.num_classes
            images = generator_images_with_labels(generator, labels, settings.seed + start)
        else:
            images, _ = sample_images(
                generator, stop - start, torch_generator(settings.seed + start)
            )
        x = adapt_images(images, classifier.image_shape).to(device)
        arrays = {
            "features": classifier.features_batched(x).cpu().numpy(),
            "predicted": classifier.predict(x).cpu().numpy(),
        }
        if labels is not None:
            arrays["labels"] = labels.numpy()
        return arrays

    samples = run_sharded(
        store, "samples", settings.samples, settings.batch_size * 4, sample_shard, "generator"
    )
    data_features = _data_features(store, "data", settings.data, settings, classifier)
    reference_features = _data_features(
        store, "reference", settings.reference, settings, classifier
    )
    summary: dict[str, Any] = {
        "generator": settings.generator,
        "data": settings.data,
        "reference": settings.reference,
        "classifier": settings.classifier or "default (cached ClassifierTrainSettings())",
        "samples": settings.samples,
        "fd_samples_vs_data": feature_frechet_distance(samples["features"], data_features),
        "fd_reference_vs_data": feature_frechet_distance(reference_features, data_features),
        "feature_dim": int(data_features.shape[1]),
    }
    if conditional:
        correct = samples["predicted"] == samples["labels"]
        names = classifier.class_names or [str(k) for k in range(classifier.num_classes)]
        rows = [
            {
                "class": k,
                "name": names[k],
                "accuracy": float(correct[samples["labels"] == k].mean()),
            }
            for k in range(generator.num_classes)
        ]
        store.write_csv("per_class.csv", rows)
        summary["class_accuracy"] = float(correct.mean())
        summary["class_accuracy_per_class"] = {row["name"]: row["accuracy"] for row in rows}
    grid, _ = sample_images(generator, 64, torch_generator(settings.seed))
    save_image_grid(grid, out / "samples.png", nrow=8)
    store.write_summary(summary)
    return summary


def generator_images_with_labels(
    generator: Any, labels: torch.Tensor, seed: int, batch_size: int = 250
) -> torch.Tensor:
    """G(z, labels) for z ~ p(z) drawn with `seed`: images [N, C, H, W] on the CPU."""
    rng = torch_generator(seed)
    chunks = []
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            c = labels[start : start + batch_size]
            z = generator.sample_latent(len(c), rng)
            chunks.append(generator(z, c.to(z.device)).cpu())
    return torch.cat(chunks)
