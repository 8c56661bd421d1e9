"""Pieces shared by ganprobe's training loops: data, batches, EMA, checkpoints.

Checkpoints are single safetensors files (written atomically) holding every tensor needed to
resume: module weights and buffers under "<name>.<key>", Adam state under
"<opt>.<param index>.<key>", torch.Generator states under "rng.<name>"; the step is stored in
the file's metadata, so weights and step can never disagree. Nothing is pickled.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..data.imageset import ImageSet
from ..errors import GanprobeError
from ..utils import atomic_write_bytes

CHECKPOINT = "checkpoint.safetensors"


def load_training_images(
    spec: str, limit: int | None, seed: int, need_labels: bool, shape=None
) -> ImageSet:
    """Images (and labels) to train on via ganprobe.data.load_images; refuses an unlabeled set
    when labels are needed (class-conditional models, classifiers)."""
    from ..data import load_images

    images = load_images(spec, limit=limit, seed=seed, shape=shape)
    if len(images) < 2:
        raise GanprobeError(f"training data {spec} has {len(images)} images; need at least 2")
    if need_labels and bool((images.labels < 0).any()):
        raise GanprobeError(
            f"training data {spec} has images without labels; class-conditional models and "
            "classifiers need labelled data (e.g. fashion-mnist:train)"
        )
    return images


def batch_indices(n_items: int, batch_size: int, step: int, seed: int) -> torch.Tensor:
    """Indices [batch_size] of the batch used at `step`: epochs are seeded permutations of
    range(n_items) cut into floor(n_items / batch_size) batches, so the batch depends only on
    (step, seed) and a resumed run sees exactly the batches an uninterrupted run would."""
    batch_size = min(batch_size, n_items)
    per_epoch = n_items // batch_size
    epoch, position = divmod(step, per_epoch)
    perm = torch.randperm(n_items, generator=torch.Generator().manual_seed(seed * 100003 + epoch))
    return perm[position * batch_size : (position + 1) * batch_size]


def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema_param <- decay * ema_param + (1 - decay) * param; buffers are copied."""
    with torch.no_grad():
        for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
            p_ema.lerp_(p, 1.0 - decay)
        for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
            b_ema.copy_(b)


def _optimizer_tensors(name: str, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensor = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            out[f"{name}.{index}.{key}"] = tensor.detach().cpu().contiguous()
    return out


def _load_optimizer(name: str, optimizer: torch.optim.Optimizer, tensors: Mapping) -> None:
    state_dict = optimizer.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    prefix = f"{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, field = key[len(prefix) :].split(".", 1)
            state.setdefault(int(index), {})[field] = value
    state_dict["state"] = state
    optimizer.load_state_dict(state_dict)


def save_checkpoint(
    path: Path,
    step: int,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    rngs: Mapping[str, torch.Generator],
) -> None:
    """Write one atomic safetensors checkpoint of modules, optimisers and RNG states at `step`."""
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{name}.{key}"] = value.detach().cpu().contiguous()
    for name, optimizer in optimizers.items():
        tensors.update(_optimizer_tensors(name, optimizer))
    for name, rng in rngs.items():
        tensors[f"rng.{name}"] = rng.get_state()
    atomic_write_bytes(path, save(tensors, metadata={"step": str(step)}))


def load_checkpoint(
    path: Path,
    modules: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    rngs: Mapping[str, torch.Generator],
) -> int:
    """Restore what `save_checkpoint` wrote (in place); return the step it was written at."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        step = int(handle.metadata()["step"])
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    for name, module in modules.items():
        prefix = f"{name}."
        module.load_state_dict(
            {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        )
    for name, optimizer in optimizers.items():
        _load_optimizer(name, optimizer, tensors)
    for name, rng in rngs.items():
        rng.set_state(tensors[f"rng.{name}"])
    return step
