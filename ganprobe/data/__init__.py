"""Data sources by spec string, OOD sets, and adapting images to a generator's shape.

    from ganprobe.data import load_images, adapt_images
    test = load_images("fashion-mnist:test", limit=1000, seed=0)   # ImageSet
    x = adapt_images(test.images, (3, 64, 64))                     # [1000, 3, 64, 64]

See ganprobe.data.specs for the spec strings (`ganprobe data list`).
"""

from .adapt import adapt_images
from .arrays import DataWarning, subsample_indices, to_model_space
from .describe import describe
from .fashion import CLASS_NAMES as FASHION_MNIST_CLASSES
from .grid import image_grid, save_image_grid
from .imageset import ImageSet
from .load import load_images
from .specs import SourceInfo, list_specs, parse_shape, parse_spec

__all__ = [
    "FASHION_MNIST_CLASSES",
    "DataWarning",
    "ImageSet",
    "SourceInfo",
    "adapt_images",
    "describe",
    "image_grid",
    "list_specs",
    "load_images",
    "parse_shape",
    "parse_spec",
    "save_image_grid",
    "subsample_indices",
    "to_model_space",
]
