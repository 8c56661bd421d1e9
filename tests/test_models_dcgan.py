"""The built-in DCGAN: shapes for any (C, H, W), conditioning, JSON config, builtin: round trip."""

from __future__ import annotations

import json

import pytest
import torch

from ganprobe.errors import ModelError
from ganprobe.models import Generator, generator_info, load_generator
from ganprobe.models.dcgan import (
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    discriminator_loss,
    generator_loss,
    save_generator,
)


@pytest.mark.parametrize(
    ("shape", "base", "doublings"),
    [
        ((1, 28, 28), (7, 7), 2),
        ((3, 32, 32), (4, 4), 3),
        ((3, 64, 64), (4, 4), 4),
        ((1, 8, 8), (4, 4), 1),
        ((3, 30, 17), (8, 5), 2),
    ],
)
@pytest.mark.parametrize("num_classes", [0, 3])
def test_generator_and_discriminator_shapes(shape, base, doublings, num_classes):
    config = DCGANConfig(image_shape=shape, num_classes=num_classes, width=4, latent_dim=5)
    assert config.base_size == base and config.num_doublings == doublings
    generator, discriminator = DCGANGenerator(config), DCGANDiscriminator(config)
    assert isinstance(generator, Generator)
    z = generator.sample_latent(3, torch.Generator().manual_seed(0))
    c = torch.tensor([0, 1, 2]) if num_classes else None
    x = generator(z, c)
    assert x.shape == (3, *shape) and x.dtype == torch.float32
    assert x.abs().max() <= 1.0
    logit, class_logits = discriminator(x, c)
    assert logit.shape == (3,)
    assert (class_logits is None) == (num_classes == 0)
    if num_classes:
        assert class_logits.shape == (3, num_classes)


def test_config_round_trips_through_json():
    config = DCGANConfig(image_shape=(3, 32, 32), latent_dim=7, num_classes=4, width=8)
    assert DCGANConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ModelError, match="unknown keys"):
        DCGANConfig.from_dict({**config.to_dict(), "depth": 3})
    with pytest.raises(ModelError, match="at least 4"):
        DCGANConfig(image_shape=(1, 2, 2))


def test_labels_are_checked():
    conditional = DCGANGenerator(image_shape=(1, 8, 8), num_classes=2, width=4).eval()
    z = torch.zeros(2, conditional.latent_dim)
    with pytest.raises(ModelError, match="pass c"):
        conditional(z)
    with pytest.raises(ModelError, match=r"\[0, 2\)"):
        conditional(z, torch.tensor([0, 2]))
    unconditional = DCGANGenerator(image_shape=(1, 8, 8), width=4).eval()
    with pytest.raises(ModelError, match="unconditional"):
        unconditional(z, torch.tensor([0, 1]))
    # a different label changes the image: the label is used
    a, b = conditional(z, torch.tensor([0, 0])), conditional(z, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)


def test_log_prior_is_standard_normal():
    generator = DCGANGenerator(image_shape=(1, 8, 8), latent_dim=3, width=4)
    z = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, -2.0]])
    expected = torch.tensor([-1.5 * 1.8378770664093453, -1.5 * 1.8378770664093453 - 4.5])
    torch.testing.assert_close(generator.log_prior(z), expected)


def test_losses_match_their_formulas():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    want_d = -(torch.log(sig(real)).mean() + torch.log(1 - sig(fake)).mean())
    torch.testing.assert_close(discriminator_loss(real, fake), want_d)
    torch.testing.assert_close(generator_loss(fake), -torch.log(sig(fake)).mean())


def test_builtin_round_trip(tmp_path):
    generator = DCGANGenerator(image_shape=(3, 16, 16), num_classes=3, width=4).eval()
    save_generator(generator, tmp_path)
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pt"))
    loaded = load_generator(f"builtin:{tmp_path}")
    z = generator.sample_latent(4, torch.Generator().manual_seed(1))
    c = torch.tensor([0, 1, 2, 0])
    torch.testing.assert_close(loaded(z, c), generator(z, c))
    assert not any(p.requires_grad for p in loaded.parameters())
    info = generator_info(loaded)
    assert info["latent_dim"] == 64 and info["num_classes"] == 3
    assert info["image_shape"] == [3, 16, 16] and info["spaces"] == ["z"]


def test_builtin_refuses_missing_or_mismatched_files(tmp_path):
    with pytest.raises(ModelError, match="train gan"):
        load_generator(f"builtin:{tmp_path}")
    save_generator(DCGANGenerator(image_shape=(1, 8, 8), width=4), tmp_path)
    meta = json.loads((tmp_path / "generator.json").read_text())
    meta["config"]["width"] = 8
    (tmp_path / "generator.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="does not match"):
        load_generator(f"builtin:{tmp_path}")


@pytest.mark.parametrize("d_norm", ["spectral", "none"])
def test_discriminator_normalisation_options(d_norm):
    config = DCGANConfig(image_shape=(1, 8, 8), num_classes=2, width=4, d_norm=d_norm)
    discriminator = DCGANDiscriminator(config)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in discriminator.modules())
    logit, _ = discriminator(torch.zeros(3, 1, 8, 8), torch.tensor([0, 1, 0]))
    assert logit.shape == (3,)
    if d_norm == "spectral":  # largest singular value of every normalised weight is ~1
        weight = discriminator.features[0].weight.flatten(1)
        for _ in range(20):
            discriminator(torch.randn(3, 1, 8, 8), torch.tensor([0, 1, 0]))
        assert torch.linalg.matrix_norm(discriminator.features[0].weight.flatten(1), 2) < 1.05
        assert weight.shape[0] == 4
    with pytest.raises(ModelError, match="d_norm"):
        DCGANConfig(d_norm="layer")


def test_default_d_norm_is_left_out_of_the_settings_dump():
    from ganprobe.config import GanTrainSettings

    assert "d_norm" not in GanTrainSettings().model_dump(mode="json")
    assert GanTrainSettings(d_norm="spectral").model_dump(mode="json")["d_norm"] == "spectral"
