"""Typical-set statistics of a density model from its own samples (pure numpy / scipy, no I/O).

Notation: `sample_log_px` [S] are log-densities (nats) of S draws x_s ~ p from the model itself;
`log_px` [N] are log-densities of the N images of a group (train, test, an OOD set) under the
same model. The entropy estimate is H_hat = -mean_s sample_log_px.

epsilon-typical set (Cover & Thomas, Sec. 3.1, with epsilon calibrated on the samples):

    A_eps = { x : | -log p(x) - H_hat | <= eps },
    eps   = the `level` quantile (default 0.99) of | -sample_log_px - H_hat |,

so A_eps holds a fraction `level` of the model's own samples by construction; in log_px terms
it is the band [-H_hat - eps, -H_hat + eps]. The alternative `kind="quantile"` band is
[q_{(1-level)/2}, q_{(1+level)/2}] of sample_log_px (equal tails instead of a symmetric eps).

Typicality test (Nalisnick et al., 2019, "Detecting out-of-distribution inputs to deep
generative models using typicality"): for a batch of M images, the statistic is

    eps_hat(batch) = | -(1/M) sum_m log p(x_m) - H_hat |,

and the batch is declared not typical when eps_hat exceeds a threshold chosen by bootstrap:
B batches of M drawn with replacement from the model samples, threshold = their (1 - alpha)
quantile. Under the null (batches of model samples) the rejection rate is therefore ~alpha.

Two-sample test: Kolmogorov-Smirnov between the group's log_px and sample_log_px.

Latent view: z ~ N(0, I_d) has norm ||z|| ~ chi(d); norms of recovered latents are compared
with that distribution by a one-sample KS test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import gammaln

from ..errors import GanprobeError


@dataclass(frozen=True)
class TypicalBand:
    """The epsilon-typical band in log_px (nats).

    low, high: bounds of log_px inside the band (inclusive);
    entropy:   H_hat = -mean sample_log_px (nats);
    epsilon:   half-width around -H_hat for kind "symmetric" (for "quantile": max distance of
               a bound from -H_hat);
    level:     fraction of model samples the band was calibrated to hold;
    kind:      "symmetric" or "quantile".
    """

    low: float
    high: float
    entropy: float
    epsilon: float
    level: float
    kind: str


def _as_finite_1d(values: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise GanprobeError(f"{name} is empty; give at least one log_px value")
    if not np.all(np.isfinite(array)):
        raise GanprobeError(
            f"{name} has {int((~np.isfinite(array)).sum())} non-finite values; "
            "check the AIS settings (more temperatures/chains) or the data"
        )
    return array


def _check_level(level: float, name: str = "level") -> None:
    if not 0.0 < level < 1.0:
        raise GanprobeError(f"{name} must lie strictly between 0 and 1 (got {level})")


def entropy_estimate(sample_log_px: np.ndarray) -> float:
    """H_hat = -mean(sample_log_px) in nats (sample_log_px: [S] log p of model samples)."""
    return float(-_as_finite_1d(sample_log_px, "sample_log_px").mean())


def typical_band(
    sample_log_px: np.ndarray, level: float = 0.99, kind: str = "symmetric"
) -> TypicalBand:
    """The epsilon-typical band of the model, calibrated on its samples' log_px [S] (nats).

    kind "symmetric": [-H_hat - eps, -H_hat + eps] with eps the `level` quantile of
    |sample_log_px + H_hat|; kind "quantile": [q_{(1-level)/2}, q_{(1+level)/2}] of
    sample_log_px. Quantiles use numpy's default (linear interpolation).
    """
    _check_level(level)
    samples = _as_finite_1d(sample_log_px, "sample_log_px")
    entropy = float(-samples.mean())
    if kind == "symmetric":
        epsilon = float(np.quantile(np.abs(samples + entropy), level))
        return TypicalBand(-entropy - epsilon, -entropy + epsilon, entropy, epsilon, level, kind)
    if kind == "quantile":
        tail = (1.0 - level) / 2.0
        low, high = (float(v) for v in np.quantile(samples, [tail, 1.0 - tail]))
        epsilon = max(abs(low + entropy), abs(high + entropy))
        return TypicalBand(low, high, entropy, epsilon, level, kind)
    raise GanprobeError(f"unknown typical band kind {kind!r}; use 'symmetric' or 'quantile'")


def fraction_in_band(log_px: np.ndarray, band: TypicalBand) -> float:
    """Fraction of the N values of log_px [N] (nats) inside [band.low, band.high]."""
    values = _as_finite_1d(log_px, "log_px")
    return float(np.mean((values >= band.low) & (values <= band.high)))


def batch_statistic(batch_log_px: np.ndarray, entropy: float) -> np.ndarray:
    """eps_hat = |-mean over the last axis of batch_log_px - entropy|: [..., M] -> [...]."""
    return np.abs(-np.asarray(batch_log_px, dtype=np.float64).mean(axis=-1) - entropy)


def bootstrap_threshold(
    sample_log_px: np.ndarray,
    batch_size: int,
    alpha: float = 0.01,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> float:
    """(1 - alpha) quantile of eps_hat over `n_bootstrap` batches of `batch_size` model samples
    drawn with replacement from sample_log_px [S] (nats)."""
    _check_level(alpha, "alpha")
    if batch_size < 1:
        raise GanprobeError(f"batch size M must be >= 1 (got {batch_size})")
    if n_bootstrap < 1:
        raise GanprobeError(f"n_bootstrap must be >= 1 (got {n_bootstrap})")
    samples = _as_finite_1d(sample_log_px, "sample_log_px")
    entropy = float(-samples.mean())
    rng = np.random.default_rng(seed)
    index = rng.integers(0, samples.size, size=(n_bootstrap, batch_size))
    return float(np.quantile(batch_statistic(samples[index], entropy), 1.0 - alpha))


@dataclass(frozen=True)
class TypicalityTestResult:
    """Outcome of the batch typicality test on one group.

    batch_size: M; n_batches: number of disjoint batches of M the group was split into;
    threshold: bootstrap threshold on eps_hat (nats); statistics: eps_hat per batch [B];
    reject_rate: fraction of batches with eps_hat > threshold (NaN when n_batches == 0).
    """

    batch_size: int
    n_batches: int
    threshold: float
    statistics: np.ndarray
    reject_rate: float


def typicality_test(
    log_px: np.ndarray,
    sample_log_px: np.ndarray,
    batch_size: int = 1,
    alpha: float = 0.01,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> TypicalityTestResult:
    """Nalisnick et al. (2019) test: split the group's log_px [N] (after a seeded shuffle) into
    floor(N / M) disjoint batches of M, reject a batch when eps_hat > the bootstrap threshold
    from sample_log_px [S]; returns the rejection rate (the fraction of batches not typical)."""
    values = _as_finite_1d(log_px, "log_px")
    samples = _as_finite_1d(sample_log_px, "sample_log_px")
    threshold = bootstrap_threshold(samples, batch_size, alpha, n_bootstrap, seed)
    n_batches = values.size // batch_size
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(values.size)[: n_batches * batch_size]
    statistics = batch_statistic(
        values[order].reshape(n_batches, batch_size), float(-samples.mean())
    )
    reject_rate = float(np.mean(statistics > threshold)) if n_batches else float("nan")
    return TypicalityTestResult(batch_size, n_batches, threshold, statistics, reject_rate)


def ks_two_sample(log_px: np.ndarray, sample_log_px: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample KS test of a group's log_px [N] against sample_log_px [S]:
    (statistic, p-value)."""
    result = stats.ks_2samp(
        _as_finite_1d(log_px, "log_px"), _as_finite_1d(sample_log_px, "sample_log_px")
    )
    return float(result.statistic), float(result.pvalue)


def chi_mean(latent_dim: int) -> float:
    """E||z|| for z ~ N(0, I_d): sqrt(2) Gamma((d+1)/2) / Gamma(d/2)."""
    return math.sqrt(2.0) * math.exp(gammaln((latent_dim + 1) / 2.0) - gammaln(latent_dim / 2.0))


@dataclass(frozen=True)
class LatentNormTest:
    """Norms of latents [N] against chi(latent_dim): KS statistic and p-value, the mean norm and
    the prior's expected norm (chi_mean)."""

    ks_statistic: float
    ks_pvalue: float
    mean_norm: float
    expected_norm: float


def chi_norm_test(norms: np.ndarray, latent_dim: int) -> LatentNormTest:
    """One-sample KS test of latent norms [N] against chi(latent_dim), the distribution of
    ||z|| under the N(0, I_d) prior."""
    values = _as_finite_1d(norms, "latent norms")
    if latent_dim < 1:
        raise GanprobeError(f"latent_dim must be >= 1 (got {latent_dim})")
    result = stats.kstest(values, stats.chi(df=latent_dim).cdf)
    return LatentNormTest(
        float(result.statistic), float(result.pvalue), float(values.mean()), chi_mean(latent_dim)
    )


def latent_norm_test(latents: np.ndarray) -> LatentNormTest:
    """`chi_norm_test` of the norms of latents [N, d] with d = latent_dim."""
    z = np.asarray(latents, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise GanprobeError(f"latents must have shape [N, d] with N, d >= 1 (got {z.shape})")
    return chi_norm_test(np.linalg.norm(z, axis=1), z.shape[1])
