"""Flow: the change of variables is exact (autograd Jacobian, density integrates to 1).
VAE: ELBO <= IWAE <= log p(x), checked against the exact Gaussian marginal of a linear VAE for
IWAE and for AIS; save/load round trips."""

from __future__ import annotations

import math

import pytest
import torch

from ganprobe.config import AISSettings
from ganprobe.models.density import load_density
from ganprobe.models.density.flow import (
    SUPPORT_HIGH,
    SUPPORT_LOW,
    FlowDensity,
    logit_transform,
)
from ganprobe.models.density.vae import VAE, VAEDensity


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread avoids oversubscription on shared CI cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------- flow


@pytest.mark.parametrize("alpha", [1e-6, 0.05])
def test_logit_preprocessing_log_det_matches_autograd_jacobian(alpha):
    g = torch.Generator().manual_seed(0)
    x = SUPPORT_LOW + (SUPPORT_HIGH - SUPPORT_LOW) * torch.rand(5, generator=g, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: logit_transform(v[None], alpha)[0][0], x)
    _, log_det = logit_transform(x[None], alpha)
    assert torch.linalg.slogdet(jac).logabsdet.item() == pytest.approx(log_det.item(), abs=1e-10)


def randomized_flow(image_shape, seed: int = 0, scale: float = 0.3) -> FlowDensity:
    torch.manual_seed(seed)
    flow = FlowDensity(image_shape, transforms=2, hidden=16, alpha=0.01).double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn_like(p))
    return flow


def test_flow_density_integrates_to_one_over_its_support():
    flow = randomized_flow((1, 1, 2))
    n = 300
    width = (SUPPORT_HIGH - SUPPORT_LOW) / n
    centres = SUPPORT_LOW + width * (torch.arange(n, dtype=torch.float64) + 0.5)
    grid = torch.cartesian_prod(centres, centres).reshape(-1, 1, 1, 2)
    total = flow.log_px(grid).exp().sum().item() * width**2
    assert total == pytest.approx(1.0, abs=5e-3)


def test_flow_is_zero_outside_its_support():
    flow = randomized_flow((1, 1, 2))
    x = torch.tensor([[[[0.0, 1.01]]], [[[SUPPORT_LOW - 1e-3, 0.0]]], [[[0.5, -0.5]]]])
    log_px = flow.log_px(x.double())
    assert log_px[0] == -math.inf and log_px[1] == -math.inf and torch.isfinite(log_px[2])


def test_flow_samples_invert_the_forward_map():
    flow = randomized_flow((1, 1, 3), scale=0.1)
    g = torch.Generator().manual_seed(0)
    x = flow.sample(5, g)
    u = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    h, _ = logit_transform(x.flatten(1), flow.alpha)
    torch.testing.assert_close(flow.flow().transform(h), u, rtol=0, atol=1e-8)
    assert ((x >= SUPPORT_LOW) & (x <= SUPPORT_HIGH)).all()


def test_flow_save_load_round_trip(tmp_path):
    flow = FlowDensity((1, 2, 2), transforms=2, hidden=8).eval()
    x = torch.rand(10, 1, 2, 2) * 2 - 1
    flow.save(tmp_path)
    loaded = load_density(f"density:{tmp_path}")
    assert loaded.name == "flow" and loaded.image_shape == (1, 2, 2)
    assert torch.equal(loaded.log_px(x), flow.log_px(x))


# ----------------------------------------------------------------------------------- VAE


def linear_vae(dim: int = 12, latent: int = 3, sigma: float = 0.3, seed: int = 0) -> VAE:
    """A linear VAE in float64 whose decoder W has orthogonal columns (so the exact posterior
    is diagonal) and whose encoder is set to that exact posterior."""
    g = torch.Generator().manual_seed(seed)
    vae = VAE((1, 1, dim), latent_dim=latent, architecture="linear", sigma=sigma).double()
    with torch.no_grad():
        vae.log_sigma.fill_(math.log(sigma))  # exactly, not rounded through float32
    q, _ = torch.linalg.qr(torch.randn(dim, latent, generator=g, dtype=torch.float64))
    weight = q * torch.linspace(0.5, 1.5, latent, dtype=torch.float64)
    bias = 0.1 * torch.randn(dim, generator=g, dtype=torch.float64)
    post_var = 1.0 / (1.0 + weight.pow(2).sum(0) / sigma**2)  # diag of (I + W^T W / s^2)^-1
    with torch.no_grad():
        vae.decoder[0].weight.copy_(weight)
        vae.decoder[0].bias.copy_(bias)
        gain = post_var[:, None] * weight.T / sigma**2  # [d, D]
        enc = vae.encoder[1]
        enc.weight.zero_()
        enc.weight[:latent].copy_(gain)
        enc.bias[:latent].copy_(-gain @ bias)
        enc.bias[latent:].copy_(0.5 * post_var.log())
    return vae


def exact_log_px(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    """log N(x; b, W W^T + sigma^2 I) for the linear VAE: [N] float64."""
    weight, bias = vae.decoder[0].weight, vae.decoder[0].bias
    cov = weight @ weight.T + vae.sigma**2 * torch.eye(len(bias), dtype=torch.float64)
    dist = torch.distributions.MultivariateNormal(bias, covariance_matrix=cov)
    return dist.log_prob(x.flatten(1)).detach()


def sample_linear(vae: VAE, n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, vae.latent_dim, generator=g, dtype=torch.float64)
    noise = vae.sigma * torch.randn(n, 1, 1, vae.image_shape[2], generator=g, dtype=torch.float64)
    return (vae.decode(z) + noise).detach()


def test_linear_vae_with_exact_posterior_makes_iwae_exact_and_elbo_unbiased():
    vae = linear_vae()
    x = sample_linear(vae, 20)
    density = VAEDensity(vae)
    exact = exact_log_px(vae, x)
    # with q = p(z|x), every importance weight p(x, z) / q(z|x) equals p(x)
    torch.testing.assert_close(density.iwae(x, samples=5), exact, rtol=0, atol=1e-9)
    # the ELBO (closed-form KL, one sample) is then an unbiased estimate of log p(x)
    elbo = density.elbo(x.repeat(4000, 1, 1, 1)).reshape(4000, -1).mean(0)
    torch.testing.assert_close(elbo, exact, rtol=0, atol=0.1)


def test_linear_vae_bounds_order_and_ais_is_close_to_exact():
    vae = linear_vae()
    with torch.no_grad():  # a wrong encoder: the bounds become strict
        vae.encoder[1].weight.mul_(0.5)
        vae.encoder[1].bias[vae.latent_dim :].add_(0.7)
    x = sample_linear(vae, 8)
    density = VAEDensity(vae, batch_size=8)
    exact = exact_log_px(vae, x)
    elbo = density.elbo(x.repeat(50, 1, 1, 1)).reshape(50, -1).mean(0)
    iwae_8 = density.iwae(x, samples=8)
    iwae_4k = density.iwae(x, samples=4096)
    assert (elbo < iwae_8).all() and iwae_8.mean() < iwae_4k.mean()
    assert (iwae_4k <= exact + 0.05).all() and (exact - iwae_4k).mean() < 0.1
    settings = AISSettings()  # the defaults: Laplace start, 100 temperatures
    ais = VAEDensity(vae.float(), batch_size=8).log_px(x.float(), ais=settings)
    assert (ais - exact).abs().mean() < 0.2 and (ais - exact).abs().max() < 0.5


def test_conv_vae_elbo_below_iwae_below_ais():
    torch.manual_seed(0)
    vae = VAE((1, 8, 8), latent_dim=2, channels=4, sigma=0.5)
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    density = VAEDensity(vae)
    elbo = density.elbo(x.repeat(200, 1, 1, 1)).reshape(200, -1).mean(0)
    iwae = density.iwae(x, samples=256)
    ais = density.log_px(x, ais=AISSettings(chains=4, temperatures=30, leapfrog=4, mode_steps=30))
    assert elbo.mean() <= iwae.mean() and (elbo <= iwae + 0.05).all()
    assert iwae.mean() <= ais.mean() + 0.5


def test_vae_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    vae = VAE((1, 8, 8), latent_dim=2, channels=4, sigma=0.3)
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    VAEDensity(vae).save(tmp_path)
    loaded = load_density(f"density:{tmp_path}")
    assert loaded.name == "vae" and loaded.vae.sigma == pytest.approx(0.3)
    assert torch.equal(loaded.iwae(x, 16, seed=3), VAEDensity(vae).iwae(x, 16, seed=3))
    settings = AISSettings(chains=2, temperatures=5, leapfrog=2, mode_steps=5)
    assert torch.equal(loaded.log_px(x, ais=settings), VAEDensity(vae).log_px(x, ais=settings))


def test_per_pixel_sigma_log_likelihood_is_the_exact_diagonal_gaussian():
    """A linear VAE with one decoder std per pixel has the marginal N(b, W W^T + diag(s^2));
    log p(x | z) is the diagonal Gaussian and AIS reaches the exact marginal."""
    g = torch.Generator().manual_seed(3)
    dim, latent = 10, 2
    vae = VAE((1, 1, dim), latent_dim=latent, architecture="linear", sigma_per_pixel=True)
    vae = vae.double()
    sigma = torch.linspace(0.1, 0.6, dim, dtype=torch.float64)
    with torch.no_grad():
        vae.log_sigma.copy_(sigma.log().view(1, 1, dim))
        vae.decoder[0].weight.copy_(torch.randn(dim, latent, generator=g, dtype=torch.float64))
    weight, bias = vae.decoder[0].weight.detach(), vae.decoder[0].bias.detach()
    exact_dist = torch.distributions.MultivariateNormal(
        bias, covariance_matrix=weight @ weight.T + torch.diag(sigma**2))
    x = exact_dist.sample((6,)).view(6, 1, 1, dim)
    exact = exact_dist.log_prob(x.flatten(1))
    # log p(x | z) against a direct evaluation at random z
    z = torch.randn(6, latent, generator=g, dtype=torch.float64)
    direct = torch.distributions.Normal(vae.decode(z).flatten(1), sigma).log_prob(x.flatten(1))
    torch.testing.assert_close(vae.log_likelihood(z, x), direct.sum(1), rtol=0, atol=1e-9)
    estimate = VAEDensity(vae.float()).log_px(x.float(), ais=AISSettings(), seed=0)
    assert float((estimate - exact).abs().max()) < 0.2


@pytest.mark.parametrize("per_pixel", [False, True])
def test_calibrated_sigma_is_the_closed_form_optimum(per_pixel: bool) -> None:
    """calibrate_sigma sets sigma^2 to the mean squared residual at one posterior draw, which
    maximises the ELBO of that draw over sigma (a step either way lowers it)."""
    torch.manual_seed(0)
    vae = VAE((1, 4, 4), latent_dim=2, architecture="linear", sigma_per_pixel=per_pixel)
    vae = vae.double()
    x = torch.rand(50, 1, 4, 4, dtype=torch.float64) * 2 - 1
    vae.calibrate_sigma(x, torch.Generator().manual_seed(1))
    z, _ = vae._posterior_draw(x, torch.Generator().manual_seed(1))
    squared = (x - vae.decode(z)).flatten(1).pow(2).mean(0)
    expected = squared.sqrt() if per_pixel else squared.mean().sqrt().reshape(1)
    torch.testing.assert_close(vae.log_sigma.exp().flatten(), expected.detach(), rtol=1e-6,
                               atol=0)

    def elbo_of_draw() -> float:
        z, kl = vae._posterior_draw(x, torch.Generator().manual_seed(1))
        log_lik = vae._gaussian_log_likelihood((x - vae.decode(z)).flatten(1))
        return float((log_lik - kl).sum().detach())

    best = elbo_of_draw()
    with torch.no_grad():
        for step in (-0.05, 0.05):
            vae.log_sigma += step
            assert elbo_of_draw() < best
            vae.log_sigma -= step
