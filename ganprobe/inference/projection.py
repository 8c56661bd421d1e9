"""Batched projection of images onto a generator's manifold.

For each target image x, d(x) = min over latents u of dist(G(u), x), approximated by Adam from R
random restarts. Every image has its own latent(s) and the objective is SUMMED over images, so
the update an image receives does not depend on the other images in the batch (Adam acts
element-wise); the R restarts of every image run side by side in the same batch. The best restart
and the best step (lowest objective seen) are kept.

Latent spaces (`ProjectionSettings.space`):
    z   u = z [latent_dim], image = G(z, c); restarts z ~ p(z).
    w   u = w [w_dim], image = synthesis(w repeated num_ws times); restarts w = mapping(z, c).
    w+  u = ws [num_ws, w_dim], one w per synthesis layer; restarts as for w.

Objective per image (`loss`): 'l2' = sum of squared differences over C*H*W, 'lpips', or
'l2+lpips' = mean squared difference + lpips_weight * LPIPS; plus prior_weight * ||z||^2 / 2
(= -log p(z) + const) in space z. Step size: linear warm-up then cosine decay. An image is frozen
(early stop) once any of its restarts has rmse (LPIPS for loss 'lpips') below `tolerance`.

Restart r of the image with id k starts from a torch.Generator seeded by (seed, k, r) only, so
results do not depend on batch composition, chunking or sharding in exact arithmetic. (A
generator whose kernels round differently at different batch sizes, like most convolutions,
can still move an image's result: over thousands of steps a 1e-6 difference may reach another
local minimum; scripts/batch_invariance.py measures it.) Images are processed in chunks whose
estimated peak memory stays under `memory_budget_mb`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..config import ProjectionSettings
from ..distances import get_lpips, squared_l2
from ..errors import GanprobeError

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


@dataclass
class ProjectionResult:
    """Per-image projection results (N images).

    l2, rmse: float64 [N], model-space distance of the best reconstruction to the target;
    lpips: float64 [N] or None when LPIPS is not enabled;
    latents: float32 [N, *latent_shape] best latent ([d] for z / w, [num_ws, w_dim] for w+);
    reconstructions: float32 [N, C, H, W] = G(best latent);
    steps: int64 [N] Adam steps taken before the image stopped (early stop) or ran out;
    restart_spread: float64 [N] max - min over restarts of each restart's best stop distance
    (rmse, or LPIPS for loss 'lpips'); 0 with one restart;
    best_restart: int64 [N]; objective: float64 [N] best objective value.
    """

    l2: torch.Tensor
    rmse: torch.Tensor
    latents: torch.Tensor
    reconstructions: torch.Tensor
    steps: torch.Tensor
    restart_spread: torch.Tensor
    best_restart: torch.Tensor
    objective: torch.Tensor
    lpips: torch.Tensor | None = None
    space: str = "z"
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.l2.shape[0])

    def distance(self, metric: str) -> torch.Tensor:
        """The per-image distance named `metric` ('l2', 'rmse' or 'lpips'): [N] float64."""
        value = getattr(self, metric, None) if metric in ("l2", "rmse", "lpips") else None
        if value is None:
            raise GanprobeError(f"metric {metric!r} was not computed; enable it in the settings")
        return value


def latent_seed(seed: int, image_id: int, restart: int) -> int:
    """63-bit seed of restart `restart` of image `image_id` under run seed `seed`; independent
    streams, so adding restarts or moving an image to another batch changes no other start."""
    key = [int(seed) & 0xFFFFFFFF, int(image_id), int(restart)]
    state = np.random.SeedSequence(key).generate_state(2)
    return (int(state[0]) << 32 | int(state[1])) & 0x7FFF_FFFF_FFFF_FFFF


def learning_rate(step: int, steps: int, settings: ProjectionSettings) -> float:
    """Step size at step t (0-based) of `steps`: linear warm-up over the first
    ceil(warmup_fraction * steps) steps, then cosine decay from the peak (settings.step_size)
    to final_lr_fraction times it."""
    warmup = math.ceil(settings.warmup_fraction * steps)
    peak = settings.step_size
    if step < warmup:
        return peak * (step + 1) / warmup
    span = max(1, steps - warmup - 1)
    progress = min(1.0, (step - warmup) / span)
    floor = settings.final_lr_fraction
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def generator_device(generator: object) -> torch.device:
    """Device of the generator's first parameter (cpu when it has none)."""
    if isinstance(generator, nn.Module):
        for parameter in generator.parameters():
            return parameter.device
    device = getattr(generator, "device", None)
    return torch.device(device) if device is not None else torch.device("cpu")


class LatentSpace:
    """How latents of one space are initialised and rendered to images for a generator."""

    def __init__(self, generator: object, space: str) -> None:
        self.generator = generator
        self.space = space
        if space in ("w", "w+"):
            missing = [a for a in ("mapping", "synthesis", "num_ws") if not hasattr(generator, a)]
            if missing:
                raise GanprobeError(
                    f"latent space {space!r} needs a generator with mapping/synthesis/num_ws "
                    f"(missing: {', '.join(missing)}); use --space z"
                )
        elif space != "z":
            raise GanprobeError(f"unknown latent space {space!r}; use z, w or w+")

    def initial(
        self, image_ids: torch.Tensor, restarts: int, seed: int, labels: torch.Tensor | None
    ) -> torch.Tensor:
        """Random starting latents: [n * restarts, *latent_shape], row i * restarts + r."""
        z = torch.cat([
            self.generator.sample_latent(
                1, generator=torch.Generator().manual_seed(latent_seed(seed, int(k), r))
            ).detach().float()
            for k in image_ids.tolist()
            for r in range(restarts)
        ])
        if self.space == "z":
            return z
        row_labels = None if labels is None else labels.repeat_interleave(restarts)
        with torch.no_grad():
            w = self.generator.mapping(z, row_labels)
        if w.dim() == 3:  # StyleGAN's mapping already broadcasts to [N, num_ws, w_dim]
            w = w[:, 0]
        if self.space == "w":
            return w.float()
        return w[:, None, :].repeat(1, int(self.generator.num_ws), 1).float()

    def render(self, latent: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Images [M, C, H, W] from latents [M, *latent_shape] (labels [M] or None)."""
        if self.space == "z":
            return self.generator(latent, labels)
        if self.space == "w":
            latent = latent[:, None, :].expand(-1, int(self.generator.num_ws), -1)
        return self.generator.synthesis(latent)


def _check_inputs(
    generator: object, images: torch.Tensor, class_labels: torch.Tensor | None
) -> None:
    shape = tuple(int(s) for s in generator.image_shape)
    if images.dim() != 4 or tuple(images.shape[1:]) != shape:
        raise GanprobeError(
            f"images of shape {tuple(images.shape)} do not match the generator's image shape "
            f"{shape}; load the data with shape=generator.image_shape"
        )
    num_classes = int(getattr(generator, "num_classes", 0))
    if num_classes > 0:
        if class_labels is None:
            raise GanprobeError(
                "the generator is class-conditional: give a class label per image "
                "(--class-label) or use the classify command"
            )
        if class_labels.shape != (images.shape[0],):
            raise GanprobeError(f"class_labels must have shape [{images.shape[0]}]")
        if int(class_labels.min()) < 0 or int(class_labels.max()) >= num_classes:
            raise GanprobeError(
                f"class labels must lie in 0..{num_classes - 1}; the data has unknown or "
                "out-of-range labels"
            )
    elif class_labels is not None:
        raise GanprobeError("class labels were given but the generator is unconditional")


def estimate_bytes_per_image(
    generator: object, settings: ProjectionSettings, labels: torch.Tensor | None
) -> int:
    """Estimated peak bytes one image (all its restarts) needs during projection.

    Counts the outputs of every leaf module in one forward pass (activations kept for backward,
    their gradients and temporaries: x3, 4 bytes each), plus LPIPS' trunk the same way, plus the
    Adam state. Generators that are not nn.Modules get 64 bytes per output value.
    """
    space = LatentSpace(generator, settings.space)
    sample_labels = None if labels is None else labels[:1]
    latent = space.initial(torch.zeros(1, dtype=torch.int64), 1, 0, sample_labels)
    latent = latent.to(generator_device(generator))
    counts: list[int] = []

    def count(_module: nn.Module, _inputs: object, output: object) -> None:
        if isinstance(output, torch.Tensor):
            counts.append(output.numel())

    modules = [generator] if isinstance(generator, nn.Module) else []
    if settings.uses_lpips:
        modules.append(get_lpips(settings.lpips_net, settings.lpips_backbone).model)
    handles = [m.register_forward_hook(count) for root in modules for m in root.modules()
               if not list(m.children())]
    try:
        with torch.no_grad():
            image = space.render(latent, sample_labels)
            if settings.uses_lpips:
                get_lpips(settings.lpips_net, settings.lpips_backbone, image.device)(image, image)
    finally:
        for handle in handles:
            handle.remove()
    per_row = (3 * sum(counts) if counts else 16 * image.numel()) * 4
    per_row += 4 * (3 * image.numel() + 6 * latent.numel())
    return int(per_row * settings.restarts)


def chunk_size(
    generator: object, settings: ProjectionSettings, labels: torch.Tensor | None = None
) -> int:
    """Images per chunk so that the estimated peak stays under memory_budget_mb."""
    per_image = estimate_bytes_per_image(generator, settings, labels)
    size = max(1, int(settings.memory_budget_mb * 2**20 // per_image))
    if settings.max_chunk_images is not None:
        size = min(size, settings.max_chunk_images)
    return size


class _Objective:
    """Per-row objective and stop distance for the configured loss."""

    def __init__(self, settings: ProjectionSettings, device: torch.device) -> None:
        self.settings = settings
        self.lpips = (
            get_lpips(settings.lpips_net, settings.lpips_backbone, device)
            if settings.loss != "l2" else None
        )

    def __call__(
        self, images: torch.Tensor, targets: torch.Tensor, latent: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(objective [M], stop distance [M]) for rendered images vs targets."""
        dim = images[0].numel()
        sse = squared_l2(images, targets)
        loss = self.settings.loss
        if loss == "l2":
            objective, stop = sse, (sse.detach() / dim).sqrt()
        else:
            perceptual = self.lpips(images, targets)
            if loss == "lpips":
                objective, stop = perceptual, perceptual.detach()
            else:
                objective = sse / dim + self.settings.lpips_weight * perceptual
                stop = (sse.detach() / dim).sqrt()
        if self.settings.prior_weight > 0:
            penalty = 0.5 * latent.flatten(1).pow(2).sum(1)
            objective = objective + self.settings.prior_weight * penalty
        return objective, stop


def _project_chunk(
    space: LatentSpace,
    targets: torch.Tensor,
    labels: torch.Tensor | None,
    image_ids: torch.Tensor,
    settings: ProjectionSettings,
    seed: int,
    objective_fn: _Objective,
) -> dict[str, torch.Tensor]:
    """Optimise all restarts of n images; returns best latent/objective/stop per row and steps
    per image."""
    n, restarts = targets.shape[0], settings.restarts
    device = targets.device
    latent = space.initial(image_ids, restarts, seed, labels).to(device)
    row_targets = targets.repeat_interleave(restarts, 0)
    row_labels = None if labels is None else labels.repeat_interleave(restarts)
    first_moment = torch.zeros_like(latent)
    second_moment = torch.zeros_like(latent)
    best_objective = torch.full((n * restarts,), math.inf, dtype=torch.float64, device=device)
    best_stop = torch.full_like(best_objective, math.inf)
    best_latent = latent.clone()
    steps_used = torch.full((n,), settings.steps, dtype=torch.int64)
    active_images = torch.arange(n, device=device)
    beta1, beta2 = ADAM_BETAS
    for step in range(settings.steps + 1):
        rows = (active_images[:, None] * restarts + torch.arange(restarts, device=device)).flatten()
        current = latent[rows].requires_grad_(True)
        images = space.render(current, None if row_labels is None else row_labels[rows])
        objective, stop = objective_fn(images, row_targets[rows], current)
        value = objective.detach().double()
        improved = value < best_objective[rows]
        improved_rows = rows[improved]
        best_objective[improved_rows] = value[improved]
        best_stop[improved_rows] = stop.double()[improved]
        best_latent[improved_rows] = current.detach()[improved]
        converged = (stop.view(-1, restarts) < settings.tolerance).any(1)
        if converged.any():
            steps_used[active_images[converged].cpu()] = step
        keep = ~converged
        if step == settings.steps or not keep.any():
            break
        (gradient,) = torch.autograd.grad(objective.sum(), current)
        gradient = torch.nan_to_num(gradient.detach(), nan=0.0, posinf=0.0, neginf=0.0)
        rows, gradient = rows.view(-1, restarts)[keep].flatten(), gradient.view(
            -1, restarts, *gradient.shape[1:])[keep].flatten(0, 1)
        active_images = active_images[keep]
        first_moment[rows] = beta1 * first_moment[rows] + (1 - beta1) * gradient
        second_moment[rows] = beta2 * second_moment[rows] + (1 - beta2) * gradient.pow(2)
        corrected_first = first_moment[rows] / (1 - beta1 ** (step + 1))
        corrected_second = second_moment[rows] / (1 - beta2 ** (step + 1))
        step_size = learning_rate(step, settings.steps, settings)
        latent[rows] = latent[rows] - step_size * corrected_first / (
            corrected_second.sqrt() + ADAM_EPS
        )
    return {
        "best_latent": best_latent,
        "best_objective": best_objective,
        "best_stop": best_stop,
        "steps": steps_used,
    }


def project(
    generator: object,
    images: torch.Tensor,
    settings: ProjectionSettings | None = None,
    class_labels: torch.Tensor | None = None,
    seed: int = 0,
    image_ids: torch.Tensor | None = None,
) -> ProjectionResult:
    """Project every image onto the generator's manifold; see the module docstring.

    generator: follows ganprobe.models.protocol.Generator (eval mode, any device).
    images: [N, C, H, W] in [-1, 1], C, H, W = generator.image_shape.
    class_labels: int64 [N] for class-conditional generators (fixed during optimisation).
    image_ids: int64 [N] identities that seed each image's restarts (default 0..N-1); give the
    dataset index so results do not depend on how images are batched.
    """
    settings = settings or ProjectionSettings()
    _check_inputs(generator, images, class_labels)
    if settings.prior_weight > 0 and settings.space != "z":
        raise GanprobeError("prior_weight applies to space z only; set it to 0 for w / w+")
    n = images.shape[0]
    image_ids = torch.arange(n) if image_ids is None else torch.as_tensor(image_ids).long().cpu()
    if image_ids.shape != (n,):
        raise GanprobeError(f"image_ids must have shape [{n}]")
    device = generator_device(generator)
    space = LatentSpace(generator, settings.space)
    was_training = isinstance(generator, nn.Module) and generator.training
    if was_training:
        generator.eval()  # batch statistics would couple the images of a batch
    try:
        objective_fn = _Objective(settings, device)
        size = chunk_size(generator, settings, class_labels)
        parts: list[dict[str, torch.Tensor]] = []
        for start in range(0, n, size):
            stop = min(n, start + size)
            labels = None if class_labels is None else class_labels[start:stop].to(device)
            parts.append(_project_chunk(space, images[start:stop].to(device).float(), labels,
                                        image_ids[start:stop], settings, seed, objective_fn))
        return _finish(space, images, class_labels, settings, parts, device,
                       size * settings.restarts)
    finally:
        if was_training:
            generator.train()


def _finish(
    space: LatentSpace,
    images: torch.Tensor,
    class_labels: torch.Tensor | None,
    settings: ProjectionSettings,
    parts: list[dict[str, torch.Tensor]],
    device: torch.device,
    size: int,
) -> ProjectionResult:
    """Pick each image's best restart and compute every enabled metric on its reconstruction."""
    restarts = settings.restarts
    n = images.shape[0]
    objective = torch.cat([p["best_objective"] for p in parts]).view(n, restarts)
    stop = torch.cat([p["best_stop"] for p in parts]).view(n, restarts)
    latents = torch.cat([p["best_latent"] for p in parts])
    latents = latents.view(n, restarts, *latents.shape[1:])
    best_restart = objective.argmin(1)
    best_latent = latents[torch.arange(n, device=latents.device), best_restart]
    reconstructions = []
    l2_parts, lpips_parts = [], []
    lpips_fn = (get_lpips(settings.lpips_net, settings.lpips_backbone, device)
                if settings.uses_lpips else None)
    with torch.no_grad():
        for start in range(0, n, size):
            stop_index = min(n, start + size)
            labels = None if class_labels is None else class_labels[start:stop_index].to(device)
            recon = space.render(best_latent[start:stop_index], labels).float()
            target = images[start:stop_index].to(device).float()
            l2_parts.append(squared_l2(recon.double(), target.double()).sqrt().cpu())
            if lpips_fn is not None:
                lpips_parts.append(lpips_fn(recon, target).double().cpu())
            reconstructions.append(recon.cpu())
    l2 = torch.cat(l2_parts)
    dim = images[0].numel()
    return ProjectionResult(
        l2=l2,
        rmse=l2 / math.sqrt(dim),
        lpips=torch.cat(lpips_parts) if lpips_fn is not None else None,
        latents=best_latent.cpu(),
        reconstructions=torch.cat(reconstructions),
        steps=torch.cat([p["steps"] for p in parts]),
        restart_spread=(stop.max(1).values - stop.min(1).values).cpu(),
        best_restart=best_restart.cpu(),
        objective=objective.min(1).values.cpu(),
        space=settings.space,
    )


def project_all_classes(
    generator: object,
    images: torch.Tensor,
    settings: ProjectionSettings | None = None,
    seed: int = 0,
    image_ids: torch.Tensor | None = None,
) -> ProjectionResult:
    """Project every image under every class of a conditional generator, batched over
    (image, class) pairs. Returns a ProjectionResult over N * K pairs, pair i * K + c being
    image i under class c (its restarts seeded by id image_ids[i] * K + c)."""
    num_classes = int(getattr(generator, "num_classes", 0))
    if num_classes < 1:
        raise GanprobeError("projection over classes needs a class-conditional generator")
    n = images.shape[0]
    image_ids = torch.arange(n) if image_ids is None else torch.as_tensor(image_ids).long().cpu()
    pair_images = images.repeat_interleave(num_classes, 0)
    pair_labels = torch.arange(num_classes).repeat(n)
    pair_ids = (image_ids[:, None] * num_classes + torch.arange(num_classes)).flatten()
    return project(generator, pair_images, settings, pair_labels, seed, pair_ids)
