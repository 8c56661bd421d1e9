"""`folder:PATH`: image files under a folder.

Files with suffix .png, .jpg, .jpeg or .webp (any case) are found recursively and taken in
sorted path order. Labels come from the immediate sub-folder of PATH a file lies in (sorted
folder names -> 0..K-1); files directly in PATH get -1. Grayscale files stay 1-channel unless
some file is in colour, then all become RGB (alpha dropped). Images of another size than the
most common one are resized to it (antialiased bilinear); both facts go into the notes.
A file that cannot be decoded is skipped with a DataWarning naming it, or raises DataError
under `strict`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..progress import make_progress
from .adapt import adapt_images
from .arrays import subsample_indices, warn
from .imageset import ImageSet

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def list_image_files(root: Path) -> list[Path]:
    """Image files under `root` (recursive, sorted)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


def _decode(path: Path) -> np.ndarray:
    """Decode one file to uint8 [H, W] (grayscale) or [H, W, 3] (colour); 16-bit grayscale
    v maps to round(v / 257); alpha is dropped."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        if image.mode.startswith("I;16") or image.mode == "I":  # 16-bit gray: 0..65535
            wide = np.array(image, dtype=np.int64)
            if wide.min() < 0 or wide.max() > 65535:
                raise OSError(f"{image.mode} pixel values outside 0..65535")
            return np.round(wide / 257.0).astype(np.uint8)
        if image.mode == "F":
            raise OSError("floating-point images are not supported; save 8- or 16-bit")
        if image.mode in ("1", "L", "LA"):
            return np.array(image.convert("L"))
        rgb = np.array(image.convert("RGB"))  # colour, palette (P) and alpha modes
        if image.mode == "P" and (rgb == rgb[..., :1]).all():
            return np.ascontiguousarray(rgb[..., 0])  # a palette of grays
        return rgb


def load_folder(
    argument: str, limit: int | None, seed: int, strict: bool, name: str
) -> ImageSet:
    """Load `folder:PATH` (see the module docstring); `limit` subsamples the file list."""
    root = Path(argument).expanduser()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise DataError(f"data folder {root} {what}; give an existing folder as folder:PATH")
    files = list_image_files(root)
    if not files:
        raise DataError(
            f"no images (png/jpg/jpeg/webp) under {root}; the data set is empty"
        )
    class_names = sorted({f.relative_to(root).parts[0] for f in files if f.parent != root})
    class_index = {n: i for i, n in enumerate(class_names)}
    files = [files[i] for i in subsample_indices(len(files), limit, seed)]

    decoded: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[str] = []
    with make_progress(transient=True) as progress:
        task = progress.add_task(f"reading {root}", total=len(files), info="")
        for path in files:
            progress.advance(task)
            try:
                pixels = _decode(path)
            except Exception as exc:  # PIL raises many types for corrupt/unsupported files
                message = f"cannot decode image {path} ({type(exc).__name__}: {exc})"
                if strict:
                    raise DataError(f"{message}; remove it, or drop --strict to skip it") from None
                warn(f"skipping unreadable image file {path} ({type(exc).__name__}: {exc})")
                skipped.append(str(path))
                continue
            decoded.append(pixels)
            rel = path.relative_to(root)
            labels.append(class_index[rel.parts[0]] if len(rel.parts) > 1 else -1)
    if not decoded:
        raise DataError(f"no readable images under {root} ({len(skipped)} unreadable); empty set")

    notes = [f"skipped {len(skipped)} unreadable file(s): {', '.join(skipped)}"] if skipped else []
    images, more_notes = _stack(decoded)
    return ImageSet(
        images=images,
        labels=torch.tensor(labels, dtype=torch.int64),
        name=name,
        class_names=class_names or None,
        notes=notes + more_notes,
    )


def _stack(decoded: list[np.ndarray]) -> tuple[torch.Tensor, list[str]]:
    """Stack decoded images into float32 NCHW in [-1, 1]: common channel count and size."""
    notes = []
    colour = any(p.ndim == 3 for p in decoded)
    channels = 3 if colour else 1
    if colour and any(p.ndim == 2 for p in decoded):
        gray = sum(p.ndim == 2 for p in decoded)
        notes.append(f"{gray} grayscale image(s) repeated to RGB")
    sizes = Counter(p.shape[:2] for p in decoded)
    target = sizes.most_common(1)[0][0]
    if len(sizes) > 1:
        others = len(decoded) - sizes[target]
        listed = ", ".join(f"{h}x{w}" for (h, w) in sorted(sizes) if (h, w) != target)
        notes.append(
            f"mixed image sizes: resized {others} image(s) of size {listed} to the most common "
            f"size {target[0]}x{target[1]}"
        )
    out = torch.empty((len(decoded), channels, *target), dtype=torch.float32)
    for i, pixels in enumerate(decoded):
        chw = pixels[None] if pixels.ndim == 2 else np.transpose(pixels, (2, 0, 1))
        image = torch.from_numpy(np.ascontiguousarray(chw)).to(torch.float32) / 127.5 - 1.0
        out[i] = adapt_images(image[None], (channels, *target))[0]
    return out, notes
