"""`stylegan:FILE.pkl`: G_ema of an NVIDIA StyleGAN2-ADA, StyleGAN3 or StyleGAN-XL pickle.

Those pickles hold classes serialised by NVIDIA's `torch_utils.persistence`, so unpickling runs
code from the file and needs the user's clone of the matching repository (the folder holding
`dnnlib/` and `torch_utils/`) on PYTHONPATH. ganprobe refuses to unpickle without an explicit
trust flag.

Wrapped network G (NVIDIA attribute names): z_dim, c_dim, w_dim, img_channels, img_resolution,
mapping(z, c_onehot) -> ws [N, num_ws, w_dim] with buffer w_avg ([w_dim], or [c_dim, w_dim]
per class in StyleGAN-XL), synthesis(ws, noise_mode='const') -> images in [-1, 1].
Spaces: z ~ N(0, I); w = mapping(z, c)[:, 0] ([N, w_dim]); w+ = ws ([N, num_ws, w_dim]).
Noise inputs are constant (noise_mode='const') so that G is a deterministic function.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ...errors import ModelError
from ..protocol import GaussianPriorMixin

NEEDED = ("dnnlib", "torch_utils")


def _import_nvidia_code(spec: str) -> None:
    import importlib

    for name in NEEDED:
        try:
            importlib.import_module(name)
        except ImportError:
            raise ModelError(
                f"{spec} needs NVIDIA's code to unpickle: put the folder that holds dnnlib/ and "
                "torch_utils/ (your clone of NVlabs/stylegan2-ada-pytorch, stylegan3 or "
                f"stylegan-xl) on PYTHONPATH (could not import {name!r})"
            ) from None


def _unpickle(path: Path, spec: str) -> dict[str, Any]:
    try:
        import legacy  # NVIDIA's loader (also reads TF-era pickles) when on PYTHONPATH
    except ImportError:
        legacy = None
    try:
        with path.open("rb") as handle:
            if legacy is not None and hasattr(legacy, "load_network_pkl"):
                return legacy.load_network_pkl(handle)
            return pickle.load(handle)
    except ModelError:
        raise
    except Exception as exc:
        message = " ".join(str(exc).split())[:200]
        raise ModelError(f"{spec}: unpickling failed: {type(exc).__name__}: {message}") from None


class StyleGANGenerator(GaussianPriorMixin, nn.Module):
    """Generator protocol around NVIDIA's G_ema (see module docstring)."""

    def __init__(self, network: nn.Module, spec: str) -> None:
        super().__init__()
        missing = [
            a
            for a in (
                "z_dim",
                "c_dim",
                "w_dim",
                "img_channels",
                "img_resolution",
                "mapping",
                "synthesis",
            )
            if not hasattr(network, a)
        ]
        if missing:
            raise ModelError(f"{spec}: G_ema lacks {missing}; is this a StyleGAN2/3/XL pickle?")
        self.network = network
        self.spec = spec
        self.latent_dim = int(network.z_dim)
        self.num_classes = int(network.c_dim)
        self.w_dim = int(network.w_dim)
        self.num_ws = int(getattr(network, "num_ws", None) or network.mapping.num_ws)
        resolution = int(network.img_resolution)
        self.image_shape = (int(network.img_channels), resolution, resolution)
        w_avg = getattr(network.mapping, "w_avg", None)
        self.w_avg = w_avg.detach() if isinstance(w_avg, torch.Tensor) else None

    def _latent_device(self) -> torch.device:
        for tensor in self.network.parameters():
            return tensor.device
        return torch.device("cpu")

    def one_hot(self, c: torch.Tensor | None, n: int) -> torch.Tensor:
        """int64 labels [n] -> one-hot [n, c_dim] float ([n, 0] for unconditional networks,
        as NVIDIA's own code passes)."""
        if self.num_classes == 0:
            return torch.zeros(n, 0, device=self._latent_device())
        if c is None:
            raise ModelError(
                f"{self.spec} is class-conditional ({self.num_classes} classes); pass c"
            )
        if c.ndim != 1 or len(c) != n:
            raise ModelError(f"class labels must be int64 [{n}] (got {list(c.shape)})")
        return F.one_hot(c.long(), self.num_classes).float()

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim], labels [N] -> w [N, w_dim] (all ws rows are equal before truncation)."""
        return self.mapping_ws(z, c)[:, 0]

    def mapping_ws(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim], labels [N] -> ws [N, num_ws, w_dim] (NVIDIA's mapping output)."""
        return self.network.mapping(z, self.one_hot(c, len(z)), truncation_psi=1)

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """ws [N, num_ws, w_dim] (w+; broadcast w [N, w_dim] first) -> images [N, C, H, W]."""
        if ws.ndim == 2:
            ws = ws.unsqueeze(1).expand(-1, self.num_ws, -1)
        return self.network.synthesis(ws, noise_mode="const")

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim], labels int64 [N] (conditional) -> images [N, C, H, W]."""
        return self.synthesis(self.mapping_ws(z, c))


def load_stylegan(
    target: str, device: str = "cpu", trust_pickle: bool = False
) -> StyleGANGenerator:
    """Generator from an NVIDIA pickle's G_ema; refuses unless `trust_pickle`."""
    spec = f"stylegan:{target}"
    path = Path(target).expanduser()
    if not path.is_file():
        raise ModelError(f"{spec}: file {path} does not exist")
    if not trust_pickle:
        raise ModelError(
            f"{spec}: loading a pickle runs code stored in it; pass --trust-pickle "
            "(trust_pickle=True) only for files from a source you trust"
        )
    _import_nvidia_code(spec)
    data = _unpickle(path, spec)
    network = data.get("G_ema") if isinstance(data, dict) else None
    if not isinstance(network, nn.Module):
        keys = list(data)[:8] if isinstance(data, dict) else type(data).__name__
        raise ModelError(f"{spec}: the pickle holds no G_ema network (found: {keys})")
    return StyleGANGenerator(network.to(device), spec)
