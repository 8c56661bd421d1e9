"""Data spec strings: parsing and the list of sources (no torch import, so the CLI stays fast).

A spec is `KIND` or `KIND:ARGUMENT`:

    fashion-mnist:train | fashion-mnist:test
    digits
    ood:constant | ood:noise | ood:vflip | ood:vflip:BASESPEC
    folder:PATH
    npz:PATH            (a .npz archive or a .npy array)
    cifar10:PATH:train | cifar10:PATH:test
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import DataError, GanprobeError


@dataclass(frozen=True)
class SourceInfo:
    """One data source: the spec pattern users type and what it yields."""

    pattern: str
    description: str


SOURCES: tuple[SourceInfo, ...] = (
    SourceInfo(
        "fashion-mnist:train",
        "Fashion-MNIST training set: 60000 grayscale 1x28x28 images, 10 classes",
    ),
    SourceInfo(
        "fashion-mnist:test",
        "Fashion-MNIST test set: 10000 grayscale 1x28x28 images, 10 classes",
    ),
    SourceInfo(
        "digits",
        "scikit-learn's 1797 handwritten 8x8 digits (0..16), resized to 1x28x28, 10 classes",
    ),
    SourceInfo(
        "ood:constant",
        "10000 single-colour images (one random 8-bit level per channel), 1x28x28 by default",
    ),
    SourceInfo(
        "ood:noise",
        "10000 images of i.i.d. uniform 8-bit noise, 1x28x28 by default",
    ),
    SourceInfo(
        "ood:vflip[:SPEC]",
        "vertically flipped images of SPEC (default fashion-mnist:test), labels kept",
    ),
    SourceInfo(
        "folder:PATH",
        "png/jpg/jpeg/webp images under PATH (recursive); labels from immediate sub-folders",
    ),
    SourceInfo(
        "npz:PATH",
        ".npz (array 'images' or 'x', optional 'labels') or .npy; uint8 NHWC/NCHW or "
        "float in [-1, 1]",
    ),
    SourceInfo(
        "cifar10:PATH:train|test",
        "CIFAR-10 python batches (data_batch_1..5 / test_batch) in PATH, 3x32x32, 10 classes",
    ),
)

KINDS = ("fashion-mnist", "digits", "ood", "folder", "npz", "cifar10")
OOD_KINDS = ("constant", "noise", "vflip")


def list_specs() -> list[SourceInfo]:
    """Every data source with its spec pattern and a one-line description."""
    return list(SOURCES)


def valid_specs_text() -> str:
    """The spec patterns, comma separated, for error messages."""
    return ", ".join(s.pattern for s in SOURCES)


@dataclass(frozen=True)
class ParsedSpec:
    """A parsed spec: `kind` (one of KINDS) and its argument ('' when none)."""

    kind: str
    argument: str


def _unknown(spec: str, reason: str = "") -> DataError:
    hint = ""
    if spec and os.path.exists(spec):
        hint = " (did you mean folder:PATH or npz:PATH?)"
    why = f" ({reason})" if reason else ""
    return DataError(f"unknown data spec {spec!r}{why}{hint}; valid specs: {valid_specs_text()}")


def parse_spec(spec: str) -> ParsedSpec:
    """Split a spec into kind and argument and check its syntax (files are not touched).

    Raises DataError listing the valid specs when the kind or its argument is unknown.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise _unknown(str(spec), "empty")
    spec = spec.strip()
    kind, _, argument = spec.partition(":")
    if kind not in KINDS:
        raise _unknown(spec)
    if kind == "fashion-mnist" and argument not in ("train", "test"):
        raise _unknown(spec, "split must be train or test")
    if kind == "digits" and argument:
        raise _unknown(spec, "digits takes no argument")
    if kind == "ood":
        name, _, base = argument.partition(":")
        if name not in OOD_KINDS or (base and name != "vflip"):
            raise _unknown(spec, f"ood sets are {', '.join(OOD_KINDS)}")
        if base:
            parse_spec(base)
    if kind in ("folder", "npz") and not argument:
        raise _unknown(spec, f"{kind} needs a path")
    if kind == "cifar10":
        path, _, split = argument.rpartition(":")
        if not path or split not in ("train", "test"):
            raise _unknown(spec, "write cifar10:PATH:train or cifar10:PATH:test")
    return ParsedSpec(kind, argument)


def parse_shape(text: str) -> tuple[int, int, int]:
    """'C,H,W' or 'CxHxW' (e.g. '3,64,64') -> (C, H, W) with C in {1, 3} and H, W >= 1."""
    parts = text.replace("x", ",").split(",")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape) < 1:
        raise GanprobeError(
            f"invalid shape {text!r}; give C,H,W with C 1 or 3 and positive H, W (e.g. 3,64,64)"
        )
    return shape  # type: ignore[return-value]
