"""Image distances in model space (see DESIGN.md, "The science, precisely").

All functions take two image batches a, b of shape [N, C, H, W] in [-1, 1] and return one
distance per pair, shape [N]:

- `l2`:   Euclidean norm of (a - b) over all D = C*H*W values (model-space units).
- `rmse`: l2 / sqrt(D), the root-mean-square difference per value (model-space units; one
  8-bit level is 1/127.5 ~ 0.0078).
- `lpips`: the LPIPS perceptual distance of Zhang et al. (2018) from the `lpips` package
  (AlexNet or VGG trunk, linear layers v0.1). Inputs in [-1, 1]; grayscale is repeated to 3
  channels; images smaller than 64 px on either side are upsampled bilinearly to 64 x 64 first.

LPIPS with its (non-negative) linear layers and spatial averaging is a squared Euclidean distance
between embeddings: lpips(a, b) = ||phi(a) - phi(b)||^2 with
phi(x) = concat_l sqrt(w_l / (H_l W_l)) * unit_normalize_channels(f_l(x)). `LpipsDistance.embed`
returns phi, which makes exact chunked nearest-neighbour search under LPIPS possible (nn.py).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from .errors import GanprobeError
from .utils import GLOBAL_RNG_LOCK

LPIPS_MIN_SIZE = 64
LpipsNet = Literal["alex", "vgg"]
LpipsBackbone = Literal["imagenet", "random"]

_BACKBONE_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"distances need two [N, C, H, W] batches of one shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")


def squared_l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Sum of squared differences over C*H*W: [N, C, H, W] x2 -> [N]."""
    _check_pair(a, b)
    return (a - b).flatten(1).pow(2).sum(1)


def l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distance over C*H*W in model space: [N, C, H, W] x2 -> [N]."""
    return squared_l2(a, b).sqrt()


def rmse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Root-mean-square difference per value, l2 / sqrt(C*H*W): [N, C, H, W] x2 -> [N]."""
    return l2(a, b) / math.sqrt(a[0].numel())


def lpips_input(x: torch.Tensor) -> torch.Tensor:
    """Prepare model-space images for LPIPS: gray -> 3 channels, upsample to >= 64 px.

    x: [N, C, H, W] in [-1, 1] with C in {1, 3} -> [N, 3, H', W'] in [-1, 1]; H', W' are H, W
    unless either is below 64, in which case the image is resized bilinearly to 64 x 64.
    """
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise GanprobeError(f"LPIPS needs images [N, 1 or 3, H, W], got {tuple(x.shape)}; "
                            "use --distance l2 for other channel counts")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if min(x.shape[2], x.shape[3]) < LPIPS_MIN_SIZE:
        x = F.interpolate(x, size=(LPIPS_MIN_SIZE, LPIPS_MIN_SIZE), mode="bilinear",
                          align_corners=False)
    return x


def _backbone_weights_present(net: LpipsNet) -> bool:
    return (Path(torch.hub.get_dir()) / "checkpoints" / _BACKBONE_FILES[net]).exists()


class LpipsDistance(torch.nn.Module):
    """LPIPS distance, differentiable in both inputs, parameters frozen.

    net: 'alex' or 'vgg'. backbone: 'imagenet' uses the torchvision ImageNet weights, which must
    be in the torch hub cache (ganprobe never downloads them silently); 'random' uses a randomly
    initialised trunk with the real LPIPS linear layers — for tests of the code path only, its
    values mean nothing perceptually.
    """

    def __init__(self, net: LpipsNet = "alex", backbone: LpipsBackbone = "imagenet") -> None:
        super().__init__()
        try:
            import lpips as lpips_package
        except ImportError:
            raise GanprobeError(
                "LPIPS needs the lpips package: pip install 'ganprobe[lpips]'"
            ) from None
        if net not in _BACKBONE_FILES:
            raise GanprobeError(f"unknown LPIPS net {net!r}; use 'alex' or 'vgg'")
        if backbone == "imagenet" and not _backbone_weights_present(net):
            raise GanprobeError(
                f"LPIPS needs the ImageNet {net} weights {_BACKBONE_FILES[net]} in "
                f"{Path(torch.hub.get_dir()) / 'checkpoints'}; copy them there (or run once "
                "online), or use --distance l2"
            )
        if backbone not in ("imagenet", "random"):
            raise GanprobeError(f"unknown LPIPS backbone {backbone!r}; use 'imagenet' or 'random'")
        with warnings.catch_warnings(), GLOBAL_RNG_LOCK:
            warnings.simplefilter("ignore")
            generator_state = torch.random.get_rng_state()
            torch.manual_seed(0)  # a 'random' trunk is the same trunk in every process
            self.model = lpips_package.LPIPS(
                net=net, pnet_rand=(backbone == "random"), verbose=False
            )
            torch.random.set_rng_state(generator_state)
        self.model.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.net = net
        self.backbone = backbone

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """LPIPS of each pair: [N, C, H, W] x2 in [-1, 1] -> [N] (unitless, >= 0)."""
        _check_pair(a, b)
        return self.model(lpips_input(a), lpips_input(b)).flatten()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): [N, C, H, W] in [-1, 1] -> [N, F] with lpips(a, b) = ||phi(a) - phi(b)||^2."""
        model = self.model
        features = model.net.forward(model.scaling_layer(lpips_input(x)))
        parts = []
        for layer, feature in enumerate(features):
            unit = feature / (feature.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            weight = model.lins[layer].model[-1].weight.reshape(1, -1, 1, 1)
            scale = (weight.clamp_min(0) / (unit.shape[2] * unit.shape[3])).sqrt()
            parts.append((unit * scale).flatten(1))
        return torch.cat(parts, dim=1)


_LPIPS_CACHE: dict[tuple[str, str, str], LpipsDistance] = {}


def get_lpips(
    net: LpipsNet = "alex", backbone: LpipsBackbone = "imagenet", device: str | torch.device = "cpu"
) -> LpipsDistance:
    """A shared LpipsDistance per (net, backbone, device), built on first use."""
    key = (net, backbone, str(torch.device(device)))
    if key not in _LPIPS_CACHE:
        _LPIPS_CACHE[key] = LpipsDistance(net, backbone).to(device)
    return _LPIPS_CACHE[key]


def lpips(
    a: torch.Tensor, b: torch.Tensor, net: LpipsNet = "alex", backbone: LpipsBackbone = "imagenet"
) -> torch.Tensor:
    """LPIPS distance of each pair: [N, C, H, W] x2 in [-1, 1] -> [N]; see `LpipsDistance`."""
    return get_lpips(net, backbone, a.device)(a, b)
