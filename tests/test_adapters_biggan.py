"""biggan: adapter, with random weights built from the package's own config (no downloads)."""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("pytorch_pretrained_biggan")

from pytorch_pretrained_biggan import BigGAN, BigGANConfig  # noqa: E402

from ganprobe.errors import ModelError  # noqa: E402
from ganprobe.models import generator_info, load_generator  # noqa: E402
from ganprobe.models.adapters.biggan import BigGANGenerator  # noqa: E402


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    """A directory with config.json + pytorch_model.bin of a tiny random BigGAN (32 px)."""
    config = BigGANConfig(
        output_dim=32,
        z_dim=8,
        class_embed_dim=8,
        channel_width=4,
        num_classes=5,
        layers=[(True, 16, 8), (True, 8, 4), (False, 4, 2), (True, 2, 1)],
        attention_layer_position=1,
    )
    torch.manual_seed(0)
    network = BigGAN(config).eval()
    # the package creates the final batch norm's weight and bias with torch.Tensor(n), i.e.
    # uninitialised memory (its pretrained checkpoints overwrite them): give them real values
    with torch.no_grad():
        network.generator.bn.weight.fill_(1.0)
        network.generator.bn.bias.zero_()
    directory = tmp_path_factory.mktemp("biggan")
    (directory / "config.json").write_text(config.to_json_string())
    torch.save(network.state_dict(), directory / "pytorch_model.bin")
    return directory, network


def test_random_weights_load_as_a_class_conditional_generator(weights_dir):
    directory, network = weights_dir
    generator = load_generator(f"biggan:{directory}", truncation=0.5)
    info = generator_info(generator)
    assert (info["latent_dim"], info["num_classes"], info["image_shape"]) == (8, 5, [3, 32, 32])
    z = generator.sample_latent(3, torch.Generator().manual_seed(0))
    labels = torch.tensor([4, 0, 2])
    one_hot = torch.nn.functional.one_hot(labels, 5).float()
    with torch.no_grad():
        torch.testing.assert_close(generator(z, labels), network(z, one_hot, 0.5))
    with pytest.raises(ModelError, match="pass c"):
        generator(z)


def test_truncated_prior_samples_and_density():
    network = BigGAN(
        BigGANConfig(
            output_dim=16,
            z_dim=8,
            class_embed_dim=8,
            channel_width=4,
            num_classes=5,
            layers=[(True, 16, 1)],
            attention_layer_position=9,
        )
    )
    generator = BigGANGenerator(network, truncation=0.5)
    z = generator.sample_latent(2000, torch.Generator().manual_seed(0))
    assert z.abs().max() <= 1.0  # |z| <= 2 t
    # truncated N(0, 1) on [-2, 2] has variance 1 - 4 phi(2) / (2 Phi(2) - 1) = 0.7737
    assert abs(float(z.var()) / 0.25 - 0.7737) < 0.03
    point = torch.full((1, 8), 0.3)
    mass = math.erf(2 / math.sqrt(2))
    one_dim = -0.5 * (0.3 / 0.5) ** 2 - 0.5 * math.log(2 * math.pi) - math.log(0.5 * mass)
    torch.testing.assert_close(generator.log_prior(point), torch.tensor([8 * one_dim]))
    assert generator.log_prior(torch.full((1, 8), 1.5)).item() == -math.inf
    untruncated = BigGANGenerator(network, truncation=1.0)
    torch.testing.assert_close(
        untruncated.log_prior(point), torch.tensor([-0.5 * 8 * (0.09 + math.log(2 * math.pi))])
    )
    with pytest.raises(ModelError, match="truncation"):
        BigGANGenerator(network, truncation=1.5)


def test_missing_weights_give_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="weights not available") as err:
        load_generator(f"biggan:{tmp_path / 'not-downloaded'}")
    assert "\n" not in str(err.value)
