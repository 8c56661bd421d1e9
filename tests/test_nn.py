"""1-NN equals brute force exactly (l2), and matches the lpips package (LPIPS)."""

from __future__ import annotations

import math

import pytest
import torch

from ganprobe.distances import get_lpips
from ganprobe.errors import GanprobeError
from ganprobe.inference.nn import nearest_neighbor_distance
from tests.projection_fakes import single_thread  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("single_thread")


def _brute_force(queries: torch.Tensor, reference: torch.Tensor):
    flat_reference = reference.flatten(1).double()
    squared = torch.stack([(flat_reference - q.double()).pow(2).sum(1)
                           for q in queries.flatten(1)])
    index = squared.argmin(1)  # first minimum = lowest index
    return squared.gather(1, index[:, None]).squeeze(1).sqrt(), index


@pytest.mark.parametrize("budget_mb", [512.0, 0.01])
def test_l2_equals_brute_force_exactly(budget_mb: float) -> None:
    gen = torch.Generator().manual_seed(0)
    reference = torch.rand(300, 1, 5, 5, generator=gen) * 2 - 1
    reference[150] = reference[20]  # duplicate: ties must go to the lower index
    queries = torch.rand(40, 1, 5, 5, generator=gen) * 2 - 1
    queries[3] = reference[20]
    queries[4] = reference[299] + 1e-7
    distance, index = nearest_neighbor_distance(queries, reference, "l2",
                                                memory_budget_mb=budget_mb)
    expected_distance, expected_index = _brute_force(queries, reference)
    assert torch.equal(index, expected_index)
    assert torch.equal(distance, expected_distance)
    assert index[3] == 20 and distance[3] == 0


def test_near_ties_are_resolved_exactly() -> None:
    # many references at almost the same distance: float32 alone cannot order them
    base = torch.zeros(1, 1, 4, 4)
    reference = base.repeat(50, 1, 1, 1) + 10.0
    reference[:, 0, 0, 0] += torch.arange(50, 0, -1).double().mul(1e-6).float()
    queries = torch.zeros(2, 1, 4, 4)
    distance, index = nearest_neighbor_distance(queries, reference, "l2")
    expected_distance, expected_index = _brute_force(queries, reference)
    assert torch.equal(index, expected_index)
    assert torch.equal(distance, expected_distance)


def test_rmse_is_scaled_l2() -> None:
    gen = torch.Generator().manual_seed(1)
    reference = torch.rand(30, 3, 4, 4, generator=gen)
    queries = torch.rand(5, 3, 4, 4, generator=gen)
    l2, index = nearest_neighbor_distance(queries, reference, "l2")
    rmse, index_rmse = nearest_neighbor_distance(queries, reference, "rmse")
    assert torch.equal(index, index_rmse)
    assert torch.allclose(rmse, l2 / math.sqrt(48))


def test_lpips_matches_package_brute_force() -> None:
    gen = torch.Generator().manual_seed(2)
    reference = torch.rand(12, 1, 16, 16, generator=gen) * 2 - 1
    queries = torch.rand(3, 1, 16, 16, generator=gen) * 2 - 1
    distance, index = nearest_neighbor_distance(queries, reference, "lpips",
                                                lpips_backbone="random", memory_budget_mb=0.5)
    model = get_lpips("alex", "random")
    with torch.no_grad():
        brute = torch.stack([model(q[None].expand(12, -1, -1, -1), reference) for q in queries])
    assert torch.equal(index, brute.argmin(1))
    assert torch.allclose(distance, brute.min(1).values.double(), rtol=1e-4, atol=1e-6)


def test_bad_inputs() -> None:
    with pytest.raises(GanprobeError, match="one shape"):
        nearest_neighbor_distance(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 5, 5))
    with pytest.raises(GanprobeError, match="empty"):
        nearest_neighbor_distance(torch.zeros(2, 1, 4, 4), torch.zeros(0, 1, 4, 4))
