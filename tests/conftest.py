"""Shared pytest fixtures: small data files, an isolated cache, and the marker
`@pytest.mark.needs_fashion_mnist` (skips, with the reason, when the data is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GANPROBE_NO_PROGRESS", "1")


def _fashion_mnist_present() -> bool:
    from ganprobe.data.fashion import find_files

    return find_files("train") is not None and find_files("test") is not None


FASHION_SKIP_REASON = (
    "Fashion-MNIST idx files not found (apt-get install dataset-fashion-mnist, or set "
    "GANPROBE_DATA)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs_fashion_mnist: skipped when the Fashion-MNIST files are absent"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `@pytest.mark.needs_fashion_mnist` when the data is absent."""
    if any("needs_fashion_mnist" in item.keywords for item in items) and not (
        _fashion_mnist_present()
    ):
        skip = pytest.mark.skip(reason=FASHION_SKIP_REASON)
        for item in items:
            if "needs_fashion_mnist" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def tiny_npz(tmp_path: Path) -> Path:
    """A .npz with 'images' uint8 [12, 8, 8, 1] (NHWC, image i has all pixels = 20 * i) and
    'labels' int64 [12] = i % 3."""
    images = (20 * np.arange(12, dtype=np.uint8))[:, None, None, None] * np.ones(
        (1, 8, 8, 1), dtype=np.uint8
    )
    path = tmp_path / "tiny.npz"
    np.savez(path, images=images, labels=np.arange(12) % 3)
    return path


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point GANPROBE_CACHE at an empty temporary folder (model and data caches)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GANPROBE_CACHE", str(cache))
    return cache
