"""The optimisation loop of the iterative density baselines (VAE, flow): Adam with a cosine
learning rate, fresh dequantization noise every step, resumable checkpoints.

Step t uses the batch `batch_indices(N, B, t, seed)` and a torch.Generator seeded with
(seed, t) for its dequantization noise and any other randomness of the loss (the VAE's
reparametrisation), so a run killed and resumed from its checkpoint takes exactly the steps an
uninterrupted run takes. The checkpoint (train/common.py format) holds the model, Adam's state
and the loss history; it is written every `checkpoint_every` steps and at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..errors import GanprobeError
from ..models.density.base import dequantize
from ..progress import make_progress
from ..utils import raise_if_stop_requested
from .common import CHECKPOINT, batch_indices, load_checkpoint, save_checkpoint

LossFn = Callable[[nn.Module, torch.Tensor, torch.Generator], torch.Tensor]
"""loss(model, batch [B, C, H, W], generator) -> scalar to minimise (nats per dimension)."""

MAX_GRAD_NORM = 100.0


def cosine_lr(lr: float, step: int, steps: int) -> float:
    """Learning rate at `step` of `steps`: lr * (1 + cos(pi * step / steps)) / 2."""
    return lr * 0.5 * (1.0 + math.cos(math.pi * step / steps))


class _History(nn.Module):
    """Loss per finished step, as a buffer so it travels inside the checkpoint."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.register_buffer("loss", torch.full((steps,), math.nan, dtype=torch.float64))


def train_iterative(
    model: nn.Module,
    loss_fn: LossFn,
    images: torch.Tensor,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    run_dir: Path,
    checkpoint_every: int = 200,
    dequantize_data: bool = True,
    description: str = "train",
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Minimise `loss_fn` over `steps` Adam steps on images [N, C, H, W] (model space),
    resuming from run_dir/checkpoint.safetensors when present. Returns the loss of every step:
    float64 [steps]. `model` (already on `device`) is trained in place; batches move to
    `device` one at a time."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = _History(steps)
    checkpoint = run_dir / CHECKPOINT
    start = 0
    if checkpoint.exists():
        start = load_checkpoint(
            checkpoint, {"model": model, "history": history}, {"adam": optimizer}, {}
        )
    model.train()
    with make_progress() as progress:
        task = progress.add_task(description, total=steps, completed=start, info="")
        for step in range(start, steps):
            raise_if_stop_requested()
            generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
            batch = images[batch_indices(len(images), batch_size, step, seed)].to(device)
            if dequantize_data:
                batch = dequantize(batch, generator)
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(lr, step, steps)
            loss = loss_fn(model, batch, generator)
            if not torch.isfinite(loss):
                raise GanprobeError(
                    f"{description} diverged (non-finite loss at step {step}); use a lower --lr"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            loss = loss.detach()
            history.loss[step] = float(loss)
            done = step + 1
            if done % checkpoint_every == 0 or done == steps:
                save_checkpoint(
                    checkpoint, done, {"model": model, "history": history}, {"adam": optimizer}, {}
                )
            progress.update(task, advance=1, info=f"loss {float(loss):.4f}")
    model.eval()
    return history.loss.clone()
