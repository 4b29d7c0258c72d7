"""convkit.backends: the user's handle on the engine's algorithm choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convkit
import convkit.nn.functional as F
from convkit import backends


def test_available_algorithms_include_the_universal_fallback() -> None:
    names = backends.available_algorithms()
    assert "taps" in names and names == sorted(names)


def test_plan_describes_the_call_and_matches_what_runs() -> None:
    x = convkit.randn(2, 4, 12, 12)
    w = convkit.randn(6, 4, 3, 3)
    expected = backends.plan("forward", (2, 4, 12, 12), (6, 4, 3, 3), padding=1)
    with backends.recording() as plans:
        F.conv2d(x, w, padding=1)
    assert [p.algorithm for p in plans] == [expected.algorithm]
    assert plans[0].problem == expected.problem
    assert expected.problem.out_shape == (2, 6, 12, 12)
    assert expected.algorithm in str(expected) and "forward" in str(expected)


def test_forcing_an_algorithm_applies_to_forward_and_backward_and_is_restored() -> None:
    x = convkit.randn(2, 3, 7, 7, requires_grad=True)
    w = convkit.randn(4, 3, 3, 3, requires_grad=True)
    before = backends.get_algorithm()
    with backends.algorithm("taps"), backends.recording() as plans:
        F.conv2d(x, w).sum().backward()
    assert backends.get_algorithm() == before
    assert [(p.problem.kind, p.algorithm) for p in plans] == [
        ("forward", "taps"), ("grad_input", "taps"), ("grad_weight", "taps")]
    xt = torch.from_numpy(x.detach().numpy()).requires_grad_()
    wt = torch.from_numpy(w.detach().numpy()).requires_grad_()
    torch.nn.functional.conv2d(xt, wt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_workspace_limit_tiles_the_batch_without_changing_results() -> None:
    x = convkit.randn(5, 3, 16, 16)
    w = convkit.randn(8, 3, 5, 5)
    reference = F.conv2d(x, w, padding=2).numpy()
    limit = backends.get_workspace_limit()
    try:
        backends.set_workspace_limit(0)
        with backends.recording() as plans:
            tiled = F.conv2d(x, w, padding=2).numpy()
        assert plans[0].tiles == 5
    finally:
        backends.set_workspace_limit(limit)
    np.testing.assert_allclose(tiled, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"kind": "sideways"}, "kind must be one of"),
    ({"input_shape": (1, 4, 8)}, "must have 4 dims"),
    ({"stride": (1, 2, 3)}, "stride must be an int or 2 ints"),
    ({"padding": (1, 1, 1)}, "padding must be an int or 2 entries"),
])
def test_plan_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    args = {"kind": "forward", "input_shape": (1, 4, 8, 8), "weight_shape": (4, 4, 3, 3)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        backends.plan(**args)
    with pytest.raises(ValueError, match="unknown algorithm"):
        backends.set_algorithm("warp-drive")
