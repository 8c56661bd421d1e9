"""`load_images`: any data spec -> ImageSet, optionally subsampled and adapted to a shape."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DataError
from . import builtin
from .adapt import adapt_images, check_shape
from .cifar import load_cifar10
from .folder import load_folder
from .imageset import ImageSet
from .numpy_files import load_numpy_file
from .specs import parse_spec


def load_images(
    spec: str,
    limit: int | None = None,
    seed: int = 0,
    strict: bool = False,
    shape: Sequence[int] | None = None,
) -> ImageSet:
    """Load the images named by a data spec (see ganprobe.data.specs / `ganprobe data list`).

    spec:   e.g. 'fashion-mnist:test', 'digits', 'ood:vflip', 'folder:imgs/', 'npz:x.npz'
    limit:  keep a deterministic random subset of this many images (all when None or larger
            than the set); the subset depends only on `seed`, and a smaller limit gives a
            subset of a larger one. Synthetic OOD sets (constant, noise) draw `limit` images
            (default 10000).
    seed:   fixes the subset and the synthetic images.
    strict: unreadable (corrupt or unsupported) image files raise DataError instead of
            being skipped with a DataWarning.
    shape:  target (C, H, W); the images are adapted (resize, gray <-> RGB) to it.

    Returns an ImageSet: images float32 [N, C, H, W] in [-1, 1], labels int64 [N] (-1 when
    unknown), name = spec. Raises DataError (one line naming the input) for bad input.
    """
    parsed = parse_spec(spec)
    target = check_shape(shape) if shape is not None else None
    kind, argument = parsed.kind, parsed.argument
    if kind == "fashion-mnist":
        result = builtin.load_fashion_mnist(argument, limit, seed, spec)
    elif kind == "digits":
        result = builtin.load_digits(limit, seed, spec, shape=target)
    elif kind == "ood":
        ood_name, _, base_spec = argument.partition(":")
        if ood_name == "constant":
            result = builtin.load_constant(limit, seed, spec, shape=target)
        elif ood_name == "noise":
            result = builtin.load_noise(limit, seed, spec, shape=target)
        else:
            base = load_images(base_spec or "fashion-mnist:test", limit, seed, strict)
            result = builtin.vflip(base, spec)
    elif kind == "folder":
        result = load_folder(argument, limit, seed, strict, spec)
    elif kind == "npz":
        result = load_numpy_file(argument, limit, seed, spec)
    else:
        result = load_cifar10(argument, limit, seed, spec)
    if len(result) == 0:
        raise DataError(f"data spec {spec!r} yields no images; the data set is empty")
    if target is not None and result.shape != target:
        old = result.shape
        result.images = adapt_images(result.images, target)
        result.notes.append(
            f"adapted from {old[0]}x{old[1]}x{old[2]} to {target[0]}x{target[1]}x{target[2]}"
        )
    return result
