"""Non-GAN density baselines, each a DensityModel (name, image_shape, log_px(x) -> float64 [N]
nats in model space): full-covariance Gaussian and PPCA (exact), a Gaussian-decoder VAE (log_px
by AIS, IWAE beside it) and a zuko normalizing flow (exact). Trained by
`ganprobe.train.density.train_density`; loaded by spec `density:RUN_DIR`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import ModelError
from ..protocol import DensityModel
from .base import read_model_files
from .gaussian import GaussianDensity
from .ppca import PPCADensity

DENSITY_KINDS = ("gaussian", "ppca", "vae", "flow")

__all__ = ["DENSITY_KINDS", "GaussianDensity", "PPCADensity", "load_density", "parse_density_spec"]


def parse_density_spec(spec: str) -> Path:
    """'density:RUN_DIR' -> RUN_DIR; ModelError for any other form."""
    prefix, _, rest = spec.partition(":")
    if prefix != "density" or not rest:
        raise ModelError(
            f"density model spec {spec!r} is not understood; use density:RUN_DIR "
            "(a directory written by `ganprobe train density`)"
        )
    return Path(rest)


def load_density(spec: str) -> DensityModel:
    """Load a trained density baseline from `density:RUN_DIR`.

    A VAE takes its default AIS settings (chains, temperatures, leapfrog) and seed from the
    run's config.json when present; pass other settings to its `log_px(x, ais=...)`.
    """
    run_dir = parse_density_spec(spec)
    if not run_dir.is_dir():
        raise ModelError(f"density model directory {run_dir} does not exist (spec {spec!r})")
    meta, tensors = read_model_files(run_dir)
    kind = meta.get("kind")
    if kind == "gaussian":
        return GaussianDensity.from_files(meta, tensors)
    if kind == "ppca":
        return PPCADensity.from_files(meta, tensors)
    if kind == "vae":
        from .vae import VAEDensity

        model = VAEDensity.from_files(meta, tensors)
        _vae_defaults_from_config(model, run_dir)
        return model
    if kind == "flow":
        from .flow import FlowDensity

        return FlowDensity.from_files(meta, tensors)
    raise ModelError(
        f"{run_dir}/model.json names unknown kind {kind!r}; use one of {DENSITY_KINDS}"
    )


def _vae_defaults_from_config(model, run_dir: Path) -> None:
    path = run_dir / "config.json"
    if not path.is_file():
        return
    config = json.loads(path.read_text()).get("config", {})
    from ...config import AISSettings

    if "ais" in config:  # fields this version no longer has are dropped
        known = {k: v for k, v in config["ais"].items() if k in AISSettings.model_fields}
        model.ais = AISSettings(**known)
    model.seed = int(config.get("seed", 0))
