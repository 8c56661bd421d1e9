"""Verdicts: does each claim of Friedman & Weiss (2024) hold for this model and data?

Each analysis has one rule that turns numbers from its summary.json into "holds" or "does not
hold"; when the numbers it needs are missing the verdict is "not available" (never a guess).
The rules, with their thresholds, are stated in `Verdict.rule` and printed in the report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
NOT_AVAILABLE = "not available"

MANIFOLD_RATIO = 2.0
"""Manifold claim holds when median train rmse > MANIFOLD_RATIO x median generated rmse."""
TYPICAL_FRACTION = 0.5
"""Typicality claim holds when under this fraction of train images lie in the typical band."""

CLAIMS = {
    "manifold": "The GAN manifold does not pass through the training images: training images "
    "reconstruct far worse than images the GAN generated itself.",
    "outliers": "The manifold is no better than the data itself at telling in- from "
    "out-of-distribution images: distance to the manifold detects outliers worse than distance "
    "to the nearest training image (1-NN), and some OOD sets lie closer to the manifold than "
    "test images do.",
    "classify": "Classifying by distance to a class-conditional GAN's manifolds is worse than "
    "1-NN classification with the same metric.",
    "likelihood": "With a Gaussian observation model, even at its best sigma, the GAN gives "
    "real test images lower likelihood than non-GAN density models, and gives higher density "
    "to some out-of-distribution images.",
    "typicality": "Training images are not in the typical set of the GAN's distribution.",
}

TITLES = {
    "manifold": "Manifold: do training images lie on the GAN manifold?",
    "outliers": "Outlier detection: is the manifold closer to OOD images?",
    "classify": "Classification with a class-conditional GAN",
    "likelihood": "Likelihood: the GAN's density against non-GAN density models",
    "typicality": "Typicality: are training images typical under the GAN?",
}


@dataclass
class Verdict:
    """status: HOLDS, DOES_NOT_HOLD or NOT_AVAILABLE; rule: the decision rule in words;
    evidence: the numbers the rule used, as (name, value) rows for the report's table."""

    status: str
    rule: str
    evidence: list[tuple[str, Any]] = field(default_factory=list)
    note: str = ""


def lookup(summary: Mapping[str, Any], *paths: str) -> Any:
    """The value at the first dotted path (e.g. 'groups.train.rmse_median') that exists in
    `summary`, else None."""
    for path in paths:
        node: Any = summary
        for key in path.split("."):
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            else:
                node = None
                break
        if node is not None:
            return node
    return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _status(condition: bool) -> str:
    return HOLDS if condition else DOES_NOT_HOLD


def _train_key(groups: Mapping[str, Any]) -> str | None:
    """The group name of the training images (the first one naming a train split)."""
    return next((str(k) for k in groups if "train" in str(k)), None)


def manifold_verdict(summary: Mapping[str, Any]) -> Verdict:
    rule = (
        f"holds when the median rmse of projected training images exceeds {MANIFOLD_RATIO:g} x "
        "the median rmse of projected generated images; not available when generated images "
        "fail the projection's validity check (then the optimizer is too weak to tell)"
    )
    groups = lookup(summary, "groups") or {}
    train_key = _train_key(groups)
    train = _number(lookup(groups, f"{train_key}.median_rmse")) if train_key else None
    generated = _number(lookup(groups, "generated.median_rmse"))
    if train is None or generated is None:
        return Verdict(NOT_AVAILABLE, rule)
    ratio = train / generated if generated > 0 else math.inf
    evidence: list[tuple[str, Any]] = [
        (f"median rmse, {train_key}", train),
        ("median rmse, generated", generated),
        ("ratio train / generated", ratio),
    ]
    for name, entry in groups.items():
        if name not in (train_key, "generated") and isinstance(entry, Mapping):
            evidence.append((f"median rmse, {name}", _number(entry.get("median_rmse"))))
    valid = lookup(summary, "validity.valid")
    if valid is False:
        note = "generated images did not reconstruct below the validity threshold"
        return Verdict(NOT_AVAILABLE, rule, evidence, note)
    return Verdict(_status(ratio > MANIFOLD_RATIO), rule, evidence)


def outliers_verdict(summary: Mapping[str, Any], metric: str = "l2") -> Verdict:
    rule = (
        f"holds when the GAN's projection distance ({metric}) has a lower AUROC than the 1-NN "
        "distance on at least half of the OOD sets"
    )
    auroc = lookup(summary, "auroc") or {}
    pairs = {}
    for name, entry in auroc.items():
        gan = _number(lookup(entry, f"gan_{metric}")) if isinstance(entry, Mapping) else None
        nn = _number(lookup(entry, f"nn_{metric}")) if isinstance(entry, Mapping) else None
        if gan is not None and nn is not None:
            pairs[str(name)] = (gan, nn)
    if not pairs:
        return Verdict(NOT_AVAILABLE, rule)
    evidence: list[tuple[str, Any]] = []
    for name, (gan, nn) in pairs.items():
        evidence += [(f"AUROC GAN, {name}", gan), (f"AUROC 1-NN, {name}", nn)]
    worse = sum(gan < nn for gan, nn in pairs.values())
    closer_map = lookup(summary, "ood_closer_to_manifold_than_in") or {}
    closer = [str(k) for k, v in closer_map.items() if isinstance(v, Mapping) and v.get(metric)]
    note = (
        "OOD sets closer to the manifold (lower mean distance) than the in-distribution test "
        f"images: {', '.join(closer) or 'none'}"
    )
    return Verdict(_status(2 * worse >= len(pairs)), rule, evidence, note)


def classify_verdict(summary: Mapping[str, Any], metric: str = "l2") -> Verdict:
    rule = (
        f"holds when the GAN classifier's test accuracy ({metric}) is below the 1-NN accuracy "
        "with the same metric"
    )
    gan = _number(lookup(summary, f"accuracy.gan_{metric}"))
    nn = _number(lookup(summary, f"accuracy.nn_{metric}"))
    if gan is None or nn is None:
        return Verdict(NOT_AVAILABLE, rule)
    evidence: list[tuple[str, Any]] = [("accuracy, GAN", gan), ("accuracy, 1-NN", nn)]
    trained = _number(lookup(summary, "accuracy.classifier"))
    if trained is not None:
        evidence.append(("accuracy, trained classifier", trained))
    count = _number(lookup(summary, "count"))
    if count is not None:
        evidence.append(("test images", int(count)))
    return Verdict(_status(gan < nn), rule, evidence)


def likelihood_verdict(summary: Mapping[str, Any]) -> Verdict:
    """From the summary of `compare-density` (the GAN study plus the density baselines)."""
    rule = (
        "holds when at least one non-GAN density model gives the in-distribution test images a "
        "lower mean bpd (higher likelihood) than the GAN at its best sigma"
    )
    in_name = lookup(summary, "in_distribution")
    models = lookup(summary, "models") or {}
    gan_entry = models.get("gan") if isinstance(models, Mapping) else None
    if in_name is None or not isinstance(gan_entry, Mapping):
        return Verdict(NOT_AVAILABLE, rule)
    gan = _number(lookup(gan_entry, "bpd").get(in_name) if lookup(gan_entry, "bpd") else None)
    baselines = {
        str(name): value
        for name, entry in models.items()
        if name != "gan" and isinstance(entry, Mapping)
        and (value := _number((entry.get("bpd") or {}).get(in_name))) is not None
    }
    if gan is None or not baselines:
        return Verdict(NOT_AVAILABLE, rule)
    evidence: list[tuple[str, Any]] = [
        ("best sigma", _number(lookup(summary, "best_sigma"))),
        (f"GAN mean bpd, {in_name}", gan),
    ]
    evidence += [(f"{name} mean bpd, {in_name}", v) for name, v in baselines.items()]
    gap = _number(lookup(summary, "bdmc.mean_gap"))
    if gap is not None:
        evidence.append(("BDMC gap at best sigma (nats)", gap))
    ood = gan_entry.get("ood") or {}
    more_likely = [str(k) for k, v in ood.items()
                   if isinstance(v, Mapping) and v.get("higher_mean_log_px_than_in")]
    note = (
        "OOD sets with a higher mean GAN likelihood than the test images: "
        f"{', '.join(more_likely) or 'none'}"
    )
    better = [name for name, value in baselines.items() if value < gan]
    return Verdict(_status(bool(better)), rule, evidence, note)


def typicality_verdict(summary: Mapping[str, Any]) -> Verdict:
    rule = (
        f"holds when under {TYPICAL_FRACTION:.0%} of training images lie in the GAN's "
        "epsilon-typical band (which holds its own samples' calibrated fraction, 99% by default)"
    )
    groups = lookup(summary, "groups") or {}
    train_key = _train_key(groups)
    fraction = _number(lookup(groups, f"{train_key}.fraction_typical")) if train_key else None
    if fraction is None:
        return Verdict(NOT_AVAILABLE, rule)
    evidence: list[tuple[str, Any]] = []
    for name, entry in groups.items():
        if isinstance(entry, Mapping):
            evidence.append((f"fraction typical, {name}", _number(entry.get("fraction_typical"))))
            evidence.append((f"KS p-value, {name}", _number(entry.get("ks_pvalue"))))
    return Verdict(_status(fraction < TYPICAL_FRACTION), rule, evidence)


VERDICT_RULES: dict[str, Callable[[Mapping[str, Any]], Verdict]] = {
    "manifold": manifold_verdict,
    "outliers": outliers_verdict,
    "classify": classify_verdict,
    "likelihood": likelihood_verdict,
    "typicality": typicality_verdict,
}
