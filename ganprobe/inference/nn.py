"""Exact nearest-neighbour (1-NN) distances from query images to a reference set.

Metrics:
    l2     Euclidean distance over C*H*W in model space (float64 result).
    rmse   l2 / sqrt(C*H*W) (same neighbour as l2).
    lpips  LPIPS, computed as ||phi(a) - phi(b)||^2 of LPIPS embeddings (distances.py), which is
           what the lpips package computes, up to float rounding.

Search: queries and reference are processed in blocks sized so that no block of the N x M
distance matrix (nor its operands) exceeds `memory_budget_mb`. Within a block the squared
distances come from the expansion ||a||^2 + ||b||^2 - 2 a.b in float32; for each query the few
candidates within a rigorous float32 error bound of the block's minimum are then recomputed
exactly in float64 as sum((a - b)^2), and ties go to the lowest reference index. The result is
therefore the same neighbour and distance as brute force in float64. When more candidates than
kept fall inside the error bound, the whole row is recomputed exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch

from ..distances import LpipsBackbone, LpipsNet, get_lpips
from ..errors import GanprobeError

Metric = Literal["l2", "rmse", "lpips"]
CANDIDATES = 8
FLOAT32_EPS = float(torch.finfo(torch.float32).eps)


def _block_sizes(
    dim: int, n_queries: int, n_reference: int, budget_bytes: float
) -> tuple[int, int]:
    """(query block, reference block) so that operands (4 bytes/value) and the distance block
    fit in the budget."""
    reference_block = max(1, min(n_reference, int(budget_bytes / 2 // (4 * (dim + 1)))))
    query_block = max(1, min(n_queries, int(budget_bytes / 2 // (4 * (dim + reference_block)))))
    return query_block, reference_block


def _exact_squared(queries: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """sum((a - b)^2) in float64 for every pair: [n, F] x [m, F] -> [n, m]."""
    return torch.stack([(reference.double() - q.double()).pow(2).sum(1) for q in queries])


def nearest_squared_euclidean(
    queries: torch.Tensor,
    reference_blocks: Callable[[], object],
    n_reference: int,
    memory_budget_mb: float = 512.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact min over references of sum((q - r)^2), streaming reference blocks.

    queries: [N, F] float; reference_blocks(): iterable of (start, block [m, F]) covering
    0..n_reference-1 in order. Returns (squared distance float64 [N], index int64 [N]).
    """
    n, dim = queries.shape
    best = torch.full((n,), math.inf, dtype=torch.float64)
    best_index = torch.full((n,), -1, dtype=torch.int64)
    query_block, _ = _block_sizes(dim, n, n_reference, memory_budget_mb * 2**20)
    query_norms = queries.float().pow(2).sum(1)
    for start, block in reference_blocks():
        block = block.float()
        block_norms = block.pow(2).sum(1)
        for q_start in range(0, n, query_block):
            q = queries[q_start:q_start + query_block].float()
            q_norms = query_norms[q_start:q_start + query_block]
            approx = q_norms[:, None] + block_norms[None, :] - 2.0 * q @ block.T
            # float32 error of the expansion: <= c * eps * (|q|^2 + |b|^2) with c ~ F; be generous
            bound = 4.0 * (dim + 2) * FLOAT32_EPS * (q_norms[:, None] + block_norms.max())
            k = min(CANDIDATES, block.shape[0])
            values, candidates = approx.topk(k, dim=1, largest=False, sorted=True)
            row_min = values[:, :1]
            complete = (k == block.shape[0]) | (values[:, -1:] > row_min + 2 * bound).squeeze(1)
            for row in range(q.shape[0]):
                cols = candidates[row] if complete[row] else torch.arange(block.shape[0])
                if complete[row]:
                    cols = cols[values[row] <= row_min[row] + 2 * bound[row]]
                exact = _exact_squared(q[row:row + 1], block[cols])[0]
                order = torch.argsort(exact, stable=True)
                cols_sorted, exact_sorted = cols[order], exact[order]
                ties = exact_sorted == exact_sorted[0]
                local = int(cols_sorted[ties].min())
                value = float(exact_sorted[0])
                global_row = q_start + row
                if value < best[global_row]:  # strict: earlier blocks win ties (lower index)
                    best[global_row] = value
                    best_index[global_row] = start + local
    return best, best_index


def nearest_neighbor_distance(
    queries: torch.Tensor,
    reference: torch.Tensor,
    metric: Metric = "l2",
    memory_budget_mb: float = 512.0,
    lpips_net: LpipsNet = "alex",
    lpips_backbone: LpipsBackbone = "imagenet",
    embed_batch: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance from every query image to its nearest reference image, and that image's index.

    queries: [N, C, H, W]; reference: [M, C, H, W] (same C, H, W; model space [-1, 1]).
    Returns (distance float64 [N], index int64 [N]); see the module docstring for the metrics.
    Memory: no block of the N x M matrix, nor of the reference embeddings, exceeds the budget.
    """
    if queries.dim() != 4 or reference.dim() != 4 or queries.shape[1:] != reference.shape[1:]:
        raise GanprobeError(
            f"1-NN needs query and reference images of one shape, got {tuple(queries.shape)} and "
            f"{tuple(reference.shape)}; load both with the same shape"
        )
    if reference.shape[0] == 0:
        raise GanprobeError("the 1-NN reference set is empty; give a non-empty --train set")
    if metric not in ("l2", "rmse", "lpips"):
        raise GanprobeError(f"unknown 1-NN metric {metric!r}; use l2, rmse or lpips")
    n_reference = reference.shape[0]
    budget_bytes = memory_budget_mb * 2**20
    if metric in ("l2", "rmse"):
        flat_queries = queries.flatten(1)
        flat_reference = reference.flatten(1)
        _, reference_block = _block_sizes(flat_queries.shape[1], queries.shape[0], n_reference,
                                          budget_bytes)

        def blocks():
            for start in range(0, n_reference, reference_block):
                yield start, flat_reference[start:start + reference_block]

        squared, index = nearest_squared_euclidean(flat_queries, blocks, n_reference,
                                                   memory_budget_mb)
        distance = squared.sqrt()
        if metric == "rmse":
            distance = distance / math.sqrt(flat_queries.shape[1])
        return distance, index

    model = get_lpips(lpips_net, lpips_backbone)

    def embed(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([model.embed(images[s:s + embed_batch]).cpu()
                              for s in range(0, images.shape[0], embed_batch)])

    query_embedding = embed(queries)
    _, reference_block = _block_sizes(query_embedding.shape[1], queries.shape[0], n_reference,
                                      budget_bytes)

    def embedded_blocks():
        for start in range(0, n_reference, reference_block):
            yield start, embed(reference[start:start + reference_block])

    squared, index = nearest_squared_euclidean(query_embedding, embedded_blocks, n_reference,
                                               memory_budget_mb)
    return squared, index
