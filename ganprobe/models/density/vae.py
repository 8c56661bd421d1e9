"""Variational autoencoder with a Gaussian decoder, as a density model.

    z ~ N(0, I_d),    x | z ~ N(decoder(z), diag(sigma^2)),    q(z | x) = N(mu(x), diag(s(x)^2))

sigma is the decoder's standard deviation in model space: one scalar shared by all pixels, or
with `sigma_per_pixel=True` one value per pixel (a diagonal covariance; the default of the
study's baseline, so black backgrounds are not scored with the noise of the garment). With
`calibrated=True` (the default) it is not learned by gradient but set in closed form to its ELBO
optimum, sqrt(mean squared residual): per batch during training and over the training images at
the end (a "calibrated decoder", Rybkin et al., 2021; a gradient-learned sigma trails the
shrinking reconstruction error by Adam's step size), never below SIGMA_FLOOR. With
`calibrated=False` it stays at its initial value. Architectures: "conv" (two stride-2
convolutions each way; H and W divisible by 4) and "linear" (x = W z + b: a PPCA-like model
whose marginal is Gaussian, used to test the estimators against exact values).

Estimators of log p(x), all nats in model space, per image:
- `elbo`: E_q[log p(x|z)] - KL(q || p), one reparametrised sample, KL in closed form;
- `iwae`: log (1/k) sum_k p(x, z_k) / q(z_k | x), z_k ~ q (Burda et al.; ELBO <= IWAE_k <=
  log p(x) in expectation, increasing in k);
- `log_px`: annealed importance sampling from the prior to the posterior with ganprobe's own
  AIS (`ganprobe.inference.ais.ais_log_px`), the same code that scores GANs.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...errors import ModelError
from ..protocol import standard_normal_log_prior
from .base import gaussian_log_norm, save_model_files


def _conv_encoder(channels: int, hidden: int, height: int, width: int, out: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(channels, hidden, 4, 2, 1), nn.SiLU(),
        nn.Conv2d(hidden, 2 * hidden, 4, 2, 1), nn.SiLU(),
        nn.Flatten(), nn.Linear(2 * hidden * (height // 4) * (width // 4), out),
    )


def _conv_decoder(channels: int, hidden: int, height: int, width: int, latent: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(latent, 2 * hidden * (height // 4) * (width // 4)), nn.SiLU(),
        nn.Unflatten(1, (2 * hidden, height // 4, width // 4)),
        nn.ConvTranspose2d(2 * hidden, hidden, 4, 2, 1), nn.SiLU(),
        nn.ConvTranspose2d(hidden, channels, 4, 2, 1),
    )


SIGMA_FLOOR = 1e-3
"""Smallest calibrated decoder std (model space; an 8-bit level is 2/255 = 0.0078)."""


class VAE(nn.Module):
    """Gaussian-decoder VAE over images [N, C, H, W]; see the module docstring."""

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        latent_dim: int = 16,
        architecture: str = "conv",
        channels: int = 32,
        sigma: float = 0.1,
        calibrated: bool = True,
        sigma_per_pixel: bool = False,
    ) -> None:
        super().__init__()
        c, h, w = (int(s) for s in image_shape)
        self.image_shape = (c, h, w)
        self.latent_dim = int(latent_dim)
        self.num_classes = 0
        self.architecture = architecture
        self.channels = int(channels)
        self.calibrated = bool(calibrated)
        self.sigma_per_pixel = bool(sigma_per_pixel)
        dim = c * h * w
        if architecture == "conv":
            if h % 4 or w % 4:
                raise ModelError(
                    f"the conv VAE needs H and W divisible by 4, got {h}x{w}; "
                    "resize the data or use --vae-architecture linear"
                )
            self.encoder = _conv_encoder(c, channels, h, w, 2 * latent_dim)
            self.decoder = _conv_decoder(c, channels, h, w, latent_dim)
        elif architecture == "linear":
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(dim, 2 * latent_dim))
            self.decoder = nn.Sequential(nn.Linear(latent_dim, dim), nn.Unflatten(1, (c, h, w)))
        else:
            raise ModelError(f"unknown VAE architecture {architecture!r}; use 'conv' or 'linear'")
        shape = (c, h, w) if self.sigma_per_pixel else ()
        self.log_sigma = nn.Parameter(
            torch.full(shape, math.log(sigma)), requires_grad=False
        )

    # ----------------------------------------------------------------- the model
    @property
    def sigma(self) -> float:
        """Decoder standard deviation (model space); for a per-pixel sigma, the root mean
        square over pixels."""
        return float(self.log_sigma.detach().double().mul(2).exp().mean().sqrt())

    def _flat_log_sigma(self) -> torch.Tensor:
        """log sigma per dimension: [D]."""
        return self.log_sigma.expand(self.image_shape).reshape(-1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x): mean [N, d] and log standard deviation [N, d] for images x [N, C, H, W]."""
        mu, log_std = self.encoder(x).chunk(2, dim=1)
        return mu, log_std

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder mean: z [N, d] -> images [N, C, H, W]."""
        return self.decoder(z)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Generator protocol: the decoder mean (c is ignored: unconditional)."""
        return self.decode(z)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=generator)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; 0, I): [N, d] -> [N]."""
        return standard_normal_log_prior(z)

    def log_likelihood(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log N(x; decoder(z), sigma^2 I) for z [M, d] and x [M, C, H, W]: [M], nats."""
        return self._gaussian_log_likelihood((x - self.decode(z)).flatten(1))

    def _gaussian_log_likelihood(self, residual: torch.Tensor) -> torch.Tensor:
        """log N(residual; 0, diag(sigma^2)) per row of residual [M, D]: [M], nats."""
        log_sigma = self._flat_log_sigma()
        return (
            gaussian_log_norm(residual.shape[1])
            - log_sigma.sum()
            - 0.5 * (residual.pow(2) * torch.exp(-2.0 * log_sigma)).sum(1)
        )

    def _posterior_draw(
        self, x: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """z ~ q(z | x) by reparametrisation [N, d] and KL(q(z | x) || p(z)) [N] (nats)."""
        mu, log_std = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator).to(mu)
        kl = 0.5 * (mu.pow(2) + torch.exp(2 * log_std) - 1.0 - 2 * log_std).sum(1)
        return mu + log_std.exp() * eps, kl

    @torch.no_grad()
    def _set_optimal_sigma(self, residual: torch.Tensor) -> None:
        """Set sigma to the value that maximises the Gaussian log-likelihood of residuals
        [M, D] (model space): sqrt(mean residual^2) over rows (and over pixels for a shared
        sigma), the closed-form optimum of the ELBO in sigma."""
        self._set_sigma_from_moments(residual.detach().double().pow(2).sum(0), residual.shape[0])

    def _set_sigma_from_moments(self, squared_sum: torch.Tensor, rows: int) -> None:
        """sigma^2 = squared_sum [D] / rows per pixel (or its mean for a shared sigma),
        floored at SIGMA_FLOOR^2."""
        variance = squared_sum / rows
        if not self.sigma_per_pixel:
            variance = variance.mean()
        log_sigma = 0.5 * variance.clamp(min=SIGMA_FLOOR**2).log()
        self.log_sigma.copy_(log_sigma.reshape(self.log_sigma.shape).to(self.log_sigma))

    # ----------------------------------------------------------------- estimators
    def elbo(
        self, x: torch.Tensor, generator: torch.Generator | None = None, calibrate: bool = False
    ) -> torch.Tensor:
        """Evidence lower bound per image x [N, C, H, W]: [N] nats (differentiable). With
        `calibrate`, sigma is first set to its optimum for this batch (on the same posterior
        draw); the decoder's gradient is then that of the log of the mean squared error."""
        z, kl = self._posterior_draw(x, generator)
        residual = (x - self.decode(z)).flatten(1)
        if calibrate:
            self._set_optimal_sigma(residual)
        return self._gaussian_log_likelihood(residual) - kl

    @torch.no_grad()
    def calibrate_sigma(
        self, x: torch.Tensor, generator: torch.Generator | None = None, batch_size: int = 500
    ) -> float:
        """Set sigma to its ELBO optimum over images x [N, C, H, W] (one posterior draw per
        image): sqrt of the mean squared reconstruction residual. Returns `sigma`."""
        squared_sum = torch.zeros(x[0].numel(), dtype=torch.float64)
        for start in range(0, x.shape[0], batch_size):
            batch = x[start:start + batch_size]
            z, _ = self._posterior_draw(batch, generator)
            squared_sum += (batch - self.decode(z)).flatten(1).double().pow(2).sum(0).cpu()
        self._set_sigma_from_moments(squared_sum, x.shape[0])
        return self.sigma

    def iwae(
        self, x: torch.Tensor, samples: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Importance-weighted bound with `samples` draws from q per image x [N, C, H, W]:
        [N] nats, float64."""
        n = x.shape[0]
        mu, log_std = self.encode(x)
        eps = torch.randn((samples, *mu.shape), generator=generator).to(mu)
        z = (mu + log_std.exp() * eps).reshape(samples * n, -1)
        x_rep = x.unsqueeze(0).expand(samples, *x.shape).reshape(samples * n, *x.shape[1:])
        log_q = (
            gaussian_log_norm(self.latent_dim)
            - log_std.sum(1).repeat(samples)
            - 0.5 * eps.pow(2).sum(-1).reshape(-1)
        )
        log_w = self.log_likelihood(z, x_rep) + self.log_prior(z) - log_q
        log_w = log_w.reshape(samples, n).to(torch.float64)
        return torch.logsumexp(log_w, 0) - math.log(samples)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON) that rebuild this architecture."""
        return {
            "latent_dim": self.latent_dim,
            "architecture": self.architecture,
            "channels": self.channels,
            "sigma": self.sigma,
            "calibrated": self.calibrated,
            "sigma_per_pixel": self.sigma_per_pixel,
        }


@contextmanager
def frozen(module: nn.Module):
    """Temporarily turn off requires_grad of every parameter (gradients w.r.t. inputs only)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


class VAEDensity:
    """A trained VAE as a DensityModel: `log_px` by AIS, `iwae` / `elbo` beside it.

    `ais` (an `ganprobe.inference.ais.AISSettings`) and `seed` set the default AIS run;
    `batch_size` is the number of images per AIS call.
    """

    name = "vae"

    def __init__(self, vae: VAE, ais: Any = None, seed: int = 0, batch_size: int = 64) -> None:
        self.vae = vae.eval()
        self.image_shape = vae.image_shape
        self.ais = ais
        self.seed = seed
        self.batch_size = batch_size

    def log_px(self, x: torch.Tensor, ais: Any = None, seed: int | None = None) -> torch.Tensor:
        """AIS estimate of log p(x) for images x [N, C, H, W]: float64 [N], nats. (The estimate
        of p(x) is unbiased, so log_px is a stochastic lower bound of log p(x).)"""
        return self.ais_estimate(x, ais, seed)["log_px"]

    def ais_estimate(
        self, x: torch.Tensor, ais: Any = None, seed: int | None = None
    ) -> dict[str, torch.Tensor]:
        """AIS (`ganprobe.inference.ais.ais_log_px`, settings `ais` or this model's default)
        for images x [N, C, H, W], `batch_size` images per call: {"log_px": float64 [N] nats,
        "ess": [N] effective sample size of the chains, "acceptance": [N] mean HMC acceptance}.
        """
        from ...config import AISSettings
        from ...inference.ais import ais_log_px

        settings = ais or self.ais or AISSettings()
        generator = torch.Generator().manual_seed(self.seed if seed is None else seed)
        parts: dict[str, list[torch.Tensor]] = {"log_px": [], "ess": [], "acceptance": []}
        with frozen(self.vae):
            for start in range(0, x.shape[0], self.batch_size):
                batch = x[start : start + self.batch_size]
                result = ais_log_px(
                    self.vae.log_prior, self.vae.log_likelihood, self.vae.latent_dim,
                    batch, settings, generator=generator,
                )
                for key, values in parts.items():
                    values.append(torch.as_tensor(getattr(result, key), dtype=torch.float64))
        return {key: torch.cat(values) for key, values in parts.items()}

    @torch.no_grad()
    def iwae(self, x: torch.Tensor, samples: int = 64, seed: int = 0) -> torch.Tensor:
        """IWAE bound with `samples` draws per image x [N, C, H, W]: float64 [N], nats."""
        generator = torch.Generator().manual_seed(seed)
        chunk = max(1, 4096 // samples)
        return torch.cat([
            self.vae.iwae(x[s : s + chunk], samples, generator) for s in range(0, len(x), chunk)
        ])

    @torch.no_grad()
    def elbo(self, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """One-sample ELBO per image x [N, C, H, W]: float64 [N], nats."""
        generator = torch.Generator().manual_seed(seed)
        return self.vae.elbo(x, generator).to(torch.float64)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws x = decoder(z) + sigma eps, z ~ N(0, I): [n, C, H, W] in model space."""
        z = self.vae.sample_latent(n, generator)
        mean = self.vae.decode(z)
        return mean + self.vae.log_sigma.exp() * torch.randn(mean.shape, generator=generator)

    def save(self, run_dir: Path) -> None:
        save_model_files(
            run_dir, "vae", self.image_shape, self.vae.state_dict(), **self.vae.config()
        )

    @classmethod
    def from_files(cls, meta: dict, tensors: dict[str, torch.Tensor]) -> VAEDensity:
        keys = ("latent_dim", "architecture", "channels", "sigma", "calibrated", "sigma_per_pixel")
        args = {k: meta[k] for k in keys}
        vae = VAE(tuple(meta["image_shape"]), **args)
        vae.load_state_dict(tensors)
        return cls(vae)
