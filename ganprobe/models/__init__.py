"""Generators (protocol, adapters, the built-in DCGAN), the classifier and quality metrics."""

from .checks import generator_info, probe_generator
from .loading import load_generator, parse_spec
from .protocol import DensityModel, GaussianPriorMixin, Generator

__all__ = [
    "DensityModel",
    "GaussianPriorMixin",
    "Generator",
    "generator_info",
    "load_generator",
    "parse_spec",
    "probe_generator",
]
