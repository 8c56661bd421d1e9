"""stylegan: adapter, with a pickle written by the test-local tree in tests/fake_stylegan."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest
import torch

from ganprobe.errors import ModelError
from ganprobe.models import generator_info, load_generator

FAKE_TREE = Path(__file__).parent / "fake_stylegan"
FAKE_MODULES = (
    "dnnlib",
    "torch_utils",
    "torch_utils.persistence",
    "training",
    "training.networks",
    "legacy",
)


@pytest.fixture
def nvidia_path(monkeypatch):
    """Put the fake NVIDIA tree on sys.path (as a user's PYTHONPATH would) and forget it after."""
    monkeypatch.syspath_prepend(str(FAKE_TREE))
    yield
    for name in FAKE_MODULES:
        sys.modules.pop(name, None)


def _write_pickle(path: Path, c_dim: int, per_class_avg: bool = False) -> torch.nn.Module:
    from training.networks import Generator

    torch.manual_seed(0)
    network = Generator(
        z_dim=6, c_dim=c_dim, w_dim=5, img_resolution=8, img_channels=3, per_class_avg=per_class_avg
    )
    with path.open("wb") as handle:
        pickle.dump({"G": network, "D": None, "G_ema": network}, handle)
    return network


def test_unconditional_pickle_z_w_and_w_plus(tmp_path, nvidia_path):
    network = _write_pickle(tmp_path / "net.pkl", c_dim=0)
    generator = load_generator(f"stylegan:{tmp_path / 'net.pkl'}", trust_pickle=True)
    info = generator_info(generator)
    assert info["latent_dim"] == 6 and info["num_classes"] == 0
    assert info["image_shape"] == [3, 8, 8] and info["spaces"] == ["z", "w", "w+"]
    assert info["num_ws"] == 4 and info["w_dim"] == 5
    z = generator.sample_latent(2, torch.Generator().manual_seed(0))
    want = network(z, None, noise_mode="const")
    torch.testing.assert_close(generator(z), want)
    torch.testing.assert_close(generator(z), generator(z))  # constant noise: deterministic
    w = generator.mapping(z)
    assert w.shape == (2, 5)
    torch.testing.assert_close(generator.synthesis(w), want)  # w broadcast to all ws
    ws = w.unsqueeze(1).repeat(1, 4, 1)
    torch.testing.assert_close(generator.synthesis(ws), want)
    assert generator.w_avg.shape == (5,)


def test_conditional_pickle_uses_one_hot_labels_and_per_class_w_avg(tmp_path, nvidia_path):
    network = _write_pickle(tmp_path / "cond.pkl", c_dim=3, per_class_avg=True)
    generator = load_generator(f"stylegan:{tmp_path / 'cond.pkl'}", trust_pickle=True)
    assert generator.num_classes == 3 and generator.w_avg.shape == (3, 5)
    z = generator.sample_latent(2, torch.Generator().manual_seed(1))
    labels = torch.tensor([2, 0])
    one_hot = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    torch.testing.assert_close(generator(z, labels), network(z, one_hot, noise_mode="const"))
    with pytest.raises(ModelError, match="pass c"):
        generator(z)


def test_pickle_refused_without_trust(tmp_path, nvidia_path):
    _write_pickle(tmp_path / "net.pkl", c_dim=0)
    with pytest.raises(ModelError, match="--trust-pickle") as err:
        load_generator(f"stylegan:{tmp_path / 'net.pkl'}")
    assert "\n" not in str(err.value)


def test_missing_nvidia_code_says_what_to_put_on_pythonpath(tmp_path, monkeypatch):
    path = tmp_path / "net.pkl"
    path.write_bytes(b"not read")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "fake_stylegan" not in p])
    for name in FAKE_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ModelError, match="PYTHONPATH") as err:
        load_generator(f"stylegan:{path}", trust_pickle=True)
    assert "dnnlib" in str(err.value) and "torch_utils" in str(err.value)


def test_pickle_without_g_ema_is_refused(tmp_path, nvidia_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"D": None}))
    with pytest.raises(ModelError, match="G_ema"):
        load_generator(f"stylegan:{path}", trust_pickle=True)
