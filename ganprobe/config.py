"""Pydantic models for every command's settings.

Each command builds its settings object from CLI options; invalid values fail with a one-line
error (see `format_validation_error`). The settings object, dumped to JSON, is the run's config
and defines its hash (see store.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Settings(BaseModel):
    """Base for all settings: unknown fields are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def format_validation_error(exc: ValidationError) -> str:
    """One line: 'invalid <field>: <reason> (got <value>)' for the first error, '+N more'."""
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or exc.title
    line = f"invalid {loc}: {first['msg']}"
    if "input" in first and not isinstance(first["input"], dict):
        line += f" (got {first['input']!r})"
    if len(errors) > 1:
        line += f" (+{len(errors) - 1} more)"
    return line


# --- section: data settings ------------------------------------------------------------------

# --- section: model / training settings ------------------------------------------------------

# --- section: projection / manifold settings -------------------------------------------------

# --- section: likelihood settings ------------------------------------------------------------

# --- section: density settings ---------------------------------------------------------------

DensityModelName = Literal["gaussian", "ppca", "vae", "flow"]


class DensityTrainSettings(Settings):
    """Training of one non-GAN density baseline (`ganprobe train density`).

    Defaults are the default study (Fashion-MNIST, sized for a 2-core CPU). Every model is
    trained on dequantized data (x + U(-1/255, 1/255) per value, one 8-bit level in model space)
    and reports bpd of dequantized train / test images. Fields prefixed with a model name apply
    to that model only; `steps` is the number of optimizer steps of the iterative models.
    """

    model: DensityModelName = "gaussian"
    data: str = "fashion-mnist:train"
    test_data: str | None = "fashion-mnist:test"
    limit: int | None = Field(None, ge=2, description="training images (None: all)")
    test_limit: int | None = Field(None, ge=1, description="test images scored (None: all)")
    seed: int = 0
    dequantize: bool = True
    device: str = "cpu"
    # gaussian: ridge added to the covariance (model-space variance); None = the best of a
    # geometric grid by log-likelihood of a held-out 10% of the training images
    gaussian_ridge: float | None = Field(None, ge=0.0)
    # ppca: number of principal directions q
    ppca_rank: int = Field(64, ge=1)
    # iterative models (vae, flow)
    steps: int | None = Field(None, ge=1, description="None: vae_steps / flow_steps")
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    checkpoint_every: int = Field(200, ge=1)
    # vae: Gaussian decoder N(x; decoder(z), sigma^2 I), sigma one learned scalar (model space)
    vae_architecture: Literal["conv", "linear"] = "conv"
    vae_latent_dim: int = Field(16, ge=1)
    vae_channels: int = Field(32, ge=1)
    vae_learn_sigma: bool = True
    vae_sigma: float = Field(0.1, gt=0.0, description="initial (or fixed) decoder std")
    vae_steps: int = Field(1500, ge=1)
    iwae_samples: int = Field(64, ge=1)
    iwae_limit: int | None = Field(1000, ge=1, description="test images for ELBO / IWAE")
    ais_limit: int | None = Field(100, ge=1, description="test images for AIS log_px")
    ais_chains: int = Field(8, ge=1)
    ais_temperatures: int = Field(500, ge=2)
    ais_leapfrog: int = Field(10, ge=1)
    # flow: zuko MAF over the logit of the dequantized image
    flow_transforms: int = Field(5, ge=1)
    flow_hidden: int = Field(512, ge=1)
    flow_hidden_layers: int = Field(1, ge=1)
    flow_alpha: float = Field(1e-6, ge=0.0, lt=0.5)
    flow_steps: int = Field(1000, ge=1)

    @property
    def train_steps(self) -> int:
        """Optimizer steps of the chosen iterative model (`steps` overrides the per-model one)."""
        if self.steps is not None:
            return self.steps
        return self.vae_steps if self.model == "vae" else self.flow_steps

    @classmethod
    def quick(cls, model: DensityModelName, **overrides: object) -> DensityTrainSettings:
        """Small settings for the demo's --quick mode and smoke tests (about a minute each)."""
        values: dict[str, object] = {
            "model": model,
            "limit": 5000,
            "test_limit": 1000,
            "vae_steps": 300,
            "flow_steps": 200,
            "flow_transforms": 3,
            "flow_hidden": 256,
            "iwae_limit": 200,
            "iwae_samples": 16,
            "ais_limit": 20,
            "ais_temperatures": 100,
            "ais_chains": 4,
            "ppca_rank": 32,
        }
        values.update(overrides)
        return cls(**values)

# --- section: typicality / demo settings -----------------------------------------------------
