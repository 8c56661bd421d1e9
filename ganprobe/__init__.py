"""ganprobe: what has my generative model really learned?

Probes for any image generator: projection onto its manifold, outlier detection and
classification against a 1-NN baseline, log-likelihood by annealed importance sampling under a
Gaussian observation model, and typicality tests (Friedman & Weiss, 2024).
"""

__version__ = "0.1.0"
