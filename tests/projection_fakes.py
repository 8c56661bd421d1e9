"""Small generators with known manifolds, shared by the projection / manifold tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganprobe.models.protocol import GaussianPriorMixin


class LinearGenerator(GaussianPriorMixin, nn.Module):
    """G(z) = W z + b reshaped to image_shape; d(x) = least-squares residual, exactly."""

    num_classes = 0

    def __init__(self, latent_dim: int = 3, image_shape=(1, 4, 4), seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        dim = image_shape[0] * image_shape[1] * image_shape[2]
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.weight = nn.Parameter(torch.randn(dim, latent_dim, generator=gen) * 0.3)
        self.bias = nn.Parameter(torch.randn(dim, generator=gen) * 0.1)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return (z @ self.weight.T + self.bias).view(-1, *self.image_shape)

    def exact_distance(self, x: torch.Tensor) -> torch.Tensor:
        """min_z ||W z + b - x|| by least squares, float64: [N]."""
        w = self.weight.detach().double()
        target = (x.flatten(1).double() - self.bias.detach().double()).T
        z = torch.linalg.lstsq(w, target).solution
        return (w @ z - target).norm(dim=0)


class MLPGenerator(GaussianPriorMixin, nn.Module):
    """A small nonlinear generator (tanh output); optionally class-conditional."""

    def __init__(self, latent_dim: int = 4, image_shape=(1, 6, 6), num_classes: int = 0,
                 seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        dim = image_shape[0] * image_shape[1] * image_shape[2]
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.image_shape = tuple(image_shape)
        self.embed = nn.Embedding(max(1, num_classes), latent_dim)
        self.net = nn.Sequential(nn.Linear(latent_dim, 32), nn.Tanh(), nn.Linear(32, dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = z if c is None else z + 2.0 * self.embed(c)
        return torch.tanh(self.net(h)).view(-1, *self.image_shape)


class LinearStyleGenerator(GaussianPriorMixin, nn.Module):
    """StyleGAN-shaped linear generator: mapping(z) = M z, synthesis(ws) = sum_l A_l ws_l + b."""

    num_classes = 0

    def __init__(self, latent_dim: int = 3, w_dim: int = 3, num_ws: int = 2,
                 image_shape=(1, 4, 4), seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        dim = image_shape[0] * image_shape[1] * image_shape[2]
        self.latent_dim, self.w_dim, self.num_ws = latent_dim, w_dim, num_ws
        self.image_shape = tuple(image_shape)
        self.map = nn.Parameter(torch.randn(w_dim, latent_dim, generator=gen))
        self.layers = nn.Parameter(torch.randn(num_ws, dim, w_dim, generator=gen) * 0.3)
        self.bias = nn.Parameter(torch.randn(dim, generator=gen) * 0.1)

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return z @ self.map.T

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        flat = torch.einsum("nlw,ldw->nd", ws, self.layers) + self.bias
        return flat.view(-1, *self.image_shape)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        w = self.mapping(z)
        return self.synthesis(w[:, None].expand(-1, self.num_ws, -1))

    def exact_distance(self, x: torch.Tensor, space: str) -> torch.Tensor:
        """Least-squares residual in space w (shared w) or w+ (one w per layer): [N]."""
        layers = self.layers.detach().double()
        matrix = layers.sum(0) if space == "w" else torch.cat(list(layers), dim=1)
        target = (x.flatten(1).double() - self.bias.detach().double()).T
        solution = torch.linalg.lstsq(matrix, target).solution
        return (matrix @ solution - target).norm(dim=0)


@pytest.fixture(autouse=False)
def single_thread():
    """Run a test with one torch thread (small tensors; avoids oversubscribing shared cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_mlp() -> MLPGenerator:
    """Factory for `python:tests/projection_fakes.py:make_mlp` (unconditional, 1x6x6)."""
    return MLPGenerator()


def make_conditional_mlp() -> MLPGenerator:
    """Factory for `python:tests/projection_fakes.py:make_conditional_mlp` (10 classes)."""
    return MLPGenerator(num_classes=10, image_shape=(1, 8, 8))


class TemplateGenerator(GaussianPriorMixin, nn.Module):
    """Conditional generator with disjoint class manifolds:
    G(z, c) = 0.6 * template_c + 0.3 * tanh(A z), templates random +-1 patterns."""

    def __init__(self, num_classes: int = 4, latent_dim: int = 2, image_shape=(1, 6, 6),
                 seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        dim = image_shape[0] * image_shape[1] * image_shape[2]
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.image_shape = tuple(image_shape)
        self.templates = nn.Parameter(torch.randint(0, 2, (num_classes, dim), generator=gen)
                                      .float() * 2 - 1)
        self.mix = nn.Parameter(torch.randn(dim, latent_dim, generator=gen))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if c is None:
            raise ValueError("TemplateGenerator is class-conditional")
        flat = 0.6 * self.templates[c] + 0.3 * torch.tanh(z @ self.mix.T)
        return flat.view(-1, *self.image_shape)


def make_template() -> TemplateGenerator:
    """Factory for `python:tests/projection_fakes.py:make_template` (4 classes, 1x6x6)."""
    return TemplateGenerator()
