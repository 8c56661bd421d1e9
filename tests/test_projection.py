"""Projection: exactness on linear generators, batch invariance, early stop, conditionals."""

from __future__ import annotations

import math

import pytest
import torch

from ganprobe.config import ProjectionSettings
from ganprobe.errors import GanprobeError
from ganprobe.inference.projection import (
    learning_rate,
    project,
    project_all_classes,
)
from tests.projection_fakes import (  # noqa: F401  (fixture)
    LinearGenerator,
    LinearStyleGenerator,
    MLPGenerator,
    single_thread,
)

pytestmark = pytest.mark.usefixtures("single_thread")


def _targets(n: int, shape, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_linear_generator_distance_is_exact() -> None:
    generator = LinearGenerator()
    x = _targets(12, generator.image_shape)
    settings = ProjectionSettings(restarts=2, steps=300, lr=0.1, tolerance=0.0)
    result = project(generator, x, settings, seed=0)
    exact = generator.exact_distance(x)
    assert torch.allclose(result.l2, exact, atol=1e-3)
    assert torch.allclose(result.rmse, exact / 4.0, atol=1e-3)  # D = 16
    assert torch.all(result.l2 >= exact - 1e-6)  # can never beat the true minimum
    recon_l2 = (result.reconstructions - x).flatten(1).norm(dim=1).double()
    assert torch.allclose(recon_l2, result.l2, atol=1e-5)
    assert result.latents.shape == (12, 3)
    assert result.steps.tolist() == [300] * 12


@pytest.mark.parametrize("space", ["w", "w+"])
def test_w_and_w_plus_spaces_are_exact(space: str) -> None:
    generator = LinearStyleGenerator()
    x = _targets(6, generator.image_shape, seed=3)
    settings = ProjectionSettings(space=space, restarts=2, steps=400, lr=0.1, tolerance=0.0)
    result = project(generator, x, settings)
    assert torch.allclose(result.l2, generator.exact_distance(x, space), atol=1e-3)
    expected_shape = (6, 3) if space == "w" else (6, 2, 3)
    assert result.latents.shape == expected_shape


def test_w_plus_is_at_least_as_close_as_w() -> None:
    generator = LinearStyleGenerator()
    x = _targets(4, generator.image_shape, seed=4)
    assert torch.all(generator.exact_distance(x, "w+") <= generator.exact_distance(x, "w") + 1e-9)


def test_batch_invariance_alone_vs_batch_of_64() -> None:
    generator = MLPGenerator()
    x = _targets(64, generator.image_shape, seed=5)
    settings = ProjectionSettings(restarts=3, steps=60, tolerance=0.0)
    batch = project(generator, x, settings, seed=7)
    for index in (0, 17, 63):
        alone = project(generator, x[index:index + 1], settings, seed=7,
                        image_ids=torch.tensor([index]))
        assert abs(float(alone.l2[0] - batch.l2[index])) < 1e-4
    chunked = project(generator, x, settings.model_copy(update={"max_chunk_images": 7}), seed=7)
    assert torch.allclose(chunked.l2, batch.l2, atol=1e-4)


def test_seed_changes_restarts_and_is_reproducible() -> None:
    generator = MLPGenerator()
    x = _targets(4, generator.image_shape, seed=6)
    settings = ProjectionSettings(restarts=2, steps=5, tolerance=0.0)
    first = project(generator, x, settings, seed=1)
    again = project(generator, x, settings, seed=1)
    other = project(generator, x, settings, seed=2)
    assert torch.equal(first.latents, again.latents)
    assert not torch.equal(first.latents, other.latents)


def test_generated_images_stop_early_near_zero() -> None:
    generator = LinearGenerator()
    x = generator(torch.randn(5, 3, generator=torch.Generator().manual_seed(9))).detach()
    settings = ProjectionSettings(restarts=2, steps=400, tolerance=1e-3)
    result = project(generator, x, settings)
    assert torch.all(result.rmse < 1e-3)
    assert torch.all(result.steps < 400)


def test_best_restart_and_spread() -> None:
    generator = MLPGenerator()
    x = _targets(8, generator.image_shape, seed=8)
    one = project(generator, x, ProjectionSettings(restarts=1, steps=30, tolerance=0.0))
    assert torch.all(one.restart_spread == 0)
    many = project(generator, x, ProjectionSettings(restarts=4, steps=30, tolerance=0.0))
    assert torch.all(many.restart_spread >= 0)
    assert torch.all(many.best_restart < 4)
    # restart 0 of the 4-restart run is the 1-restart run (same image seeds): best <= it
    assert torch.all(many.objective <= one.objective + 1e-6)


def test_prior_penalty_shrinks_latents() -> None:
    generator = LinearGenerator()
    x = _targets(6, generator.image_shape, seed=10)
    free = project(generator, x, ProjectionSettings(restarts=1, steps=200, tolerance=0.0))
    shrunk = project(generator, x, ProjectionSettings(restarts=1, steps=200, tolerance=0.0,
                                                      prior_weight=5.0))
    assert shrunk.latents.norm(dim=1).mean() < free.latents.norm(dim=1).mean()
    assert torch.all(shrunk.l2 >= free.l2 - 1e-4)


def test_conditional_generator_needs_labels_and_classes_differ() -> None:
    generator = MLPGenerator(num_classes=3)
    labels = torch.tensor([0, 2])
    x = generator(torch.zeros(2, 4), labels).detach()
    settings = ProjectionSettings(restarts=2, steps=150, tolerance=0.0)
    with pytest.raises(GanprobeError, match="class-conditional"):
        project(generator, x, settings)
    with pytest.raises(GanprobeError, match="0..2"):
        project(generator, x, settings, class_labels=torch.tensor([0, 3]))
    pairs = project_all_classes(generator, x, settings)
    per_class = pairs.rmse.view(2, 3)
    assert per_class.argmin(1).tolist() == [0, 2]
    assert torch.all(per_class.min(1).values < 0.02)


def test_lpips_loss_and_reported_metric() -> None:
    generator = MLPGenerator(image_shape=(1, 8, 8))
    x = _targets(3, generator.image_shape, seed=11)
    settings = ProjectionSettings(restarts=1, steps=3, loss="l2+lpips", lpips_backbone="random",
                                  tolerance=0.0)
    result = project(generator, x, settings)
    assert result.lpips is not None and result.lpips.shape == (3,)
    assert torch.all(result.lpips >= 0)
    assert project(generator, x, ProjectionSettings(restarts=1, steps=2)).lpips is None


def test_bad_inputs() -> None:
    generator = LinearGenerator()
    with pytest.raises(GanprobeError, match="image shape"):
        project(generator, torch.zeros(2, 1, 5, 5))
    with pytest.raises(GanprobeError, match="mapping"):
        project(generator, torch.zeros(2, 1, 4, 4), ProjectionSettings(space="w"))


def test_learning_rate_schedule() -> None:
    settings = ProjectionSettings(lr=0.2, warmup_fraction=0.1, final_lr_fraction=0.0)
    rates = [learning_rate(t, 100, settings) for t in range(100)]
    assert rates[0] == pytest.approx(0.02)
    assert rates[9] == pytest.approx(0.2)
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:], strict=False))
    assert rates[10 + 44] == pytest.approx(0.2 * 0.5 * (1 + math.cos(math.pi * 44 / 89)))
