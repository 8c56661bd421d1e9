"""Building blocks shared by the manifold, outliers and classify experiments: loading the
generator and image groups, sharded (resumable) projection and 1-NN of a group, CSV rows."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from rich.markup import escape

from ..config import ProjectionSettings
from ..data import ImageSet, load_images
from ..errors import GanprobeError
from ..inference.nn import nearest_neighbor_distance
from ..inference.projection import project, project_all_classes
from ..parallel import run_sharded
from ..progress import console
from ..store import RunStore


def load_checked_generator(spec: str, device: str, trust_pickle: bool) -> object:
    """ganprobe.models.load_generator(spec) on `device` (imported lazily)."""
    from ..models import load_generator

    return load_generator(spec, device=device, trust_pickle=trust_pickle)


def slug(name: str) -> str:
    """A file-name-safe version of a group name ('fashion-mnist:test' -> 'fashion-mnist_test')."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("_") or "group"


def load_group(spec: str, limit: int | None, seed: int, shape: tuple[int, int, int]) -> ImageSet:
    """The images of a data spec adapted to the generator's (C, H, W)."""
    images = load_images(spec, limit=limit, seed=seed, shape=shape)
    if len(images) == 0:
        raise GanprobeError(f"data spec {spec!r} yielded no images; check the path or --limit")
    for note in images.notes:
        console.print(f"[dim]{escape(spec)}: {escape(note)}[/]", highlight=False, emoji=False)
    return images


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Model-space images [N, C, H, W] in [-1, 1] -> uint8 levels (for compact storage)."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


def from_uint8(levels: np.ndarray) -> np.ndarray:
    """Inverse of `to_uint8` (up to rounding): uint8 -> float32 in [-1, 1]."""
    return levels.astype(np.float32) / 127.5 - 1.0


@dataclass
class GroupProjection:
    """How one group of images is projected (see `project_group`).

    class_mode: 'none' (unconditional generator), 'given' (labels fixed per image) or 'all'
    (conditional generator, labels unknown: every class is tried and the closest kept)."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    class_mode: str = "none"
    class_labels: torch.Tensor | None = None


def project_group(
    store: RunStore,
    generator: object,
    group: GroupProjection,
    settings: ProjectionSettings,
    seed: int,
    shard_size: int,
    backend: str = "local",
) -> dict[str, np.ndarray]:
    """Project a group in resumable shards (prefix 'proj-<slug>').

    Returns arrays over the group's N images: l2, rmse, (lpips), restart_spread (float64),
    steps (int64), class_used (int64, -1 when unconditional), latent (float32 [N, ...]),
    reconstruction (uint8 [N, C, H, W]). Image i's restarts are seeded by (seed, i).
    """
    n = group.images.shape[0]

    def compute(start: int, stop: int) -> dict[str, np.ndarray]:
        ids = torch.arange(start, stop)
        images = group.images[start:stop]
        if group.class_mode == "all":
            pairs = project_all_classes(generator, images, settings, seed, ids)
            num_classes = int(generator.num_classes)
            choose = pairs.objective.view(-1, num_classes).argmin(1)
            rows = torch.arange(stop - start) * num_classes + choose
            result = _select(pairs, rows)
            class_used = choose
        else:
            labels = group.class_labels[start:stop] if group.class_mode == "given" else None
            result = project(generator, images, settings, labels, seed, ids)
            class_used = labels if labels is not None else torch.full((stop - start,), -1)
        arrays = {
            "l2": result.l2.numpy(),
            "rmse": result.rmse.numpy(),
            "restart_spread": result.restart_spread.numpy(),
            "steps": result.steps.numpy(),
            "class_used": class_used.long().numpy(),
            "latent": result.latents.float().numpy(),
            "reconstruction": to_uint8(result.reconstructions),
        }
        if result.lpips is not None:
            arrays["lpips"] = result.lpips.numpy()
        return arrays

    return run_sharded(store, f"proj-{slug(group.name)}", n, shard_size, compute,
                       description=f"project {group.name}", backend=backend)


def _select(result, rows: torch.Tensor):
    """The ProjectionResult restricted to `rows`."""
    from dataclasses import replace

    fields = {}
    for name in ("l2", "rmse", "latents", "reconstructions", "steps", "restart_spread",
                 "best_restart", "objective", "lpips"):
        value = getattr(result, name)
        fields[name] = None if value is None else value[rows]
    return replace(result, **fields)


def group_for(
    name: str, images: ImageSet | torch.Tensor, generator: object,
    labels: torch.Tensor | None = None, fixed_class: int | None = None,
) -> GroupProjection:
    """A GroupProjection choosing the class mode from the generator and the known labels."""
    tensor = images.images if isinstance(images, ImageSet) else images
    known = images.labels if isinstance(images, ImageSet) else labels
    if known is None:
        known = torch.full((tensor.shape[0],), -1, dtype=torch.int64)
    num_classes = int(getattr(generator, "num_classes", 0))
    if num_classes == 0:
        return GroupProjection(name, tensor, known)
    if fixed_class is not None:
        if not 0 <= fixed_class < num_classes:
            raise GanprobeError(f"--class-label {fixed_class} is outside 0..{num_classes - 1}")
        fixed = torch.full((tensor.shape[0],), fixed_class, dtype=torch.int64)
        return GroupProjection(name, tensor, known, "given", fixed)
    if bool((known >= 0).all()) and int(known.max()) < num_classes:
        return GroupProjection(name, tensor, known, "given", known.clone())
    return GroupProjection(name, tensor, known, "all")


def nn_group(
    store: RunStore,
    name: str,
    queries: torch.Tensor,
    reference: torch.Tensor,
    metrics: list[str],
    shard_size: int,
    memory_budget_mb: float,
    settings: ProjectionSettings,
    backend: str = "local",
) -> dict[str, np.ndarray]:
    """1-NN distance (and index) of every query to the reference, per metric, in resumable
    shards (prefix 'nn-<slug>'): arrays nn_<metric> float64 [N], nn_<metric>_index int64 [N]."""

    def compute(start: int, stop: int) -> dict[str, np.ndarray]:
        arrays = {}
        for metric in metrics:
            distance, index = nearest_neighbor_distance(
                queries[start:stop], reference, metric, memory_budget_mb,
                settings.lpips_net, settings.lpips_backbone,
            )
            arrays[f"nn_{metric}"] = distance.numpy()
            arrays[f"nn_{metric}_index"] = index.numpy()
        return arrays

    return run_sharded(store, f"nn-{slug(name)}", queries.shape[0], shard_size, compute,
                       description=f"1-NN {name}", backend=backend)


def distance_metrics(settings: ProjectionSettings) -> list[str]:
    """Metrics compared between methods: l2, plus lpips when enabled."""
    return ["l2", "lpips"] if settings.uses_lpips else ["l2"]


def stats(values: np.ndarray) -> dict[str, float]:
    """median / mean / std of a 1-D array (floats)."""
    values = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(values)), "mean": float(values.mean()),
            "std": float(values.std())}
