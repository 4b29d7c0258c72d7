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


def test_autotuning_times_close_candidates_once_and_keeps_the_winner(monkeypatch) -> None:
    from convkit.engine import conv_plan

    # a problem several algorithms support, in float64 so the comparison is tight
    x = convkit.randn(2, 8, 20, 20, dtype=convkit.float64, requires_grad=True)
    w = convkit.randn(8, 8, 3, 3, dtype=convkit.float64, requires_grad=True)
    monkeypatch.setattr(conv_plan, "_AUTOTUNE_SPREAD", 1e9)  # time every candidate
    runs: list[str] = []
    original = conv_plan._run_plan

    def counting(chosen, p, a, b):
        runs.append(chosen.algorithm)
        return original(chosen, p, a, b)

    monkeypatch.setattr(conv_plan, "_run_plan", counting)
    assert not backends.get_autotune()
    with backends.autotuning(), backends.recording() as plans:
        assert backends.get_autotune()
        out = F.conv2d(x, w, padding=1)
        out.backward(convkit.ones_like(out))
        first_runs = len(runs)
        again = F.conv2d(x, w, padding=1)
    assert not backends.get_autotune()
    forward = plans[0]
    assert "autotune" in forward.reason and forward.algorithm in forward.reason
    timed = forward.reason.count(" ms")
    assert 2 <= timed <= conv_plan._AUTOTUNE_CANDIDATES
    # each timed candidate ran twice on the first call; the second call ran the winner once
    assert len(runs) == first_runs + 1 and runs[-1] == forward.algorithm
    assert plans[-1].algorithm == forward.algorithm
    xt = torch.from_numpy(x.detach().numpy()).requires_grad_()
    wt = torch.from_numpy(w.detach().numpy()).requires_grad_()
    ref = torch.nn.functional.conv2d(xt, wt, padding=1)
    ref.backward(torch.ones_like(ref))
    for mine, theirs in ((out, ref), (again, ref), (x.grad, xt.grad), (w.grad, wt.grad)):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(),
                                   rtol=1e-10, atol=1e-10)


def test_autotuning_leaves_a_forced_algorithm_alone_and_rejects_non_bools() -> None:
    x = convkit.randn(1, 4, 9, 9)
    w = convkit.randn(4, 4, 3, 3)
    with backends.autotuning(), backends.algorithm("im2col"), backends.recording() as plans:
        F.conv2d(x, w)
    assert plans[0].algorithm == "im2col" and "forced" in plans[0].reason
    with pytest.raises(TypeError, match="enabled must be a bool"):
        backends.set_autotune(1)
