"""convkit.explain.viz: every picture is a valid PNG, and every number it draws is computed.

PyTorch is the oracle: the kernels drawn are the layer's weights, the feature maps are what
``torch.nn.functional`` gives with the same weights, the receptive field is where torch's
gradient is nonzero, the sliding window's sum written out by hand equals torch's output
element, and the wiring equals what perturbing one input channel at a time shows.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convkit
from convkit import nn

pytest.importorskip("matplotlib", reason="matplotlib (the viz extra) is missing")
from matplotlib.figure import Figure
from PIL import Image

from convkit.explain import viz

REPO = Path(__file__).resolve().parents[1]
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


def assert_png(path: Path, min_size: tuple[int, int] = (200, 150)) -> None:
    """A PNG by signature, readable by Pillow, of plausible size, not one flat colour."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    with Image.open(path) as img:
        img.load()
        assert img.format == "PNG"
        assert img.size[0] >= min_size[0] and img.size[1] >= min_size[1], img.size
        rgb = np.asarray(img.convert("RGB")).astype(np.uint32)  # (H, W, 3)
    assert len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])) > 10, "flat"


def image_axes(fig: Figure) -> list:
    """The visible axes that draw an array (not the colorbars)."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.images
            and ax.get_label() != "<colorbar>"]


def torch_twin(layer: nn.Module) -> torch.nn.Module:
    """The PyTorch layer with convkit's arguments and weights."""
    name = type(layer).__name__
    if name.startswith("Conv"):
        kwargs = {"stride": layer.stride, "padding": layer.padding, "dilation": layer.dilation,
                  "groups": layer.groups, "bias": layer.bias is not None}
        if layer.transposed:
            kwargs["output_padding"] = layer.output_padding
        else:
            kwargs["padding_mode"] = layer.padding_mode
        twin = getattr(torch.nn, name)(layer.in_channels, layer.out_channels,
                                       layer.kernel_size, **kwargs).double()
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(layer.weight.detach().numpy()))
            if layer.bias is not None:
                twin.bias.copy_(torch.from_numpy(layer.bias.detach().numpy()))
        return twin
    if name.startswith("MaxPool"):
        return getattr(torch.nn, name)(layer.kernel_size, layer.stride, layer.padding,
                                       layer.dilation, ceil_mode=layer.ceil_mode)
    if name.startswith("AvgPool"):
        return getattr(torch.nn, name)(layer.kernel_size, layer.stride, layer.padding,
                                       ceil_mode=layer.ceil_mode,
                                       count_include_pad=layer.count_include_pad)
    raise AssertionError(name)


# ------------------------------------------------------------------ kernel grid
def test_kernel_grid_draws_the_weights_on_one_symmetric_scale(tmp_path) -> None:
    convkit.manual_seed(1)
    conv = nn.Conv2d(4, 4, 3, groups=2, bias=False)
    fig = viz.kernel_grid(conv, tmp_path / "k.png")
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "k.png")
    w = conv.weight.detach().numpy()
    top = np.abs(w).max()
    kernel_axes = image_axes(fig)
    assert len(kernel_axes) == 8  # (4, 2) kernels of 3x3
    for k, ax in enumerate(kernel_axes):
        o, c = divmod(k, 2)
        np.testing.assert_array_equal(ax.images[0].get_array(), w[o, c])
        assert ax.images[0].get_clim() == pytest.approx((-top, top))
        # groups=2: the cell names the real input channel, out 2 reads in 2 and 3
        assert ax.get_title() == f"in channel {(o // 2) * 2 + c}"
    assert "weight (4, 2, 3, 3)" in fig.get_suptitle()


def test_kernel_grid_wraps_a_single_input_channel(tmp_path) -> None:
    conv = nn.Conv2d(1, 16, 3)
    fig = viz.kernel_grid(conv, tmp_path / "k16.png")
    assert_png(tmp_path / "k16.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.images
              and ax.get_title()]
    assert titles == [f"out {k} \u2190 in 0" for k in range(16)]
    w = conv.weight.detach().numpy()
    drawn = [ax.images[0].get_array() for ax in fig.axes if ax.get_title().startswith("out")]
    np.testing.assert_array_equal(np.stack(drawn), w[:, 0])


def test_kernel_grid_transposed_1d_and_bad_input(tmp_path) -> None:
    fig = viz.kernel_grid(nn.ConvTranspose2d(2, 4, 3, groups=2), tmp_path / "t.png")
    assert_png(tmp_path / "t.png")
    assert "one row per in channel" in fig.get_suptitle()
    fig = viz.kernel_grid(nn.Conv1d(2, 3, 5), tmp_path / "c1.png")
    arrays = [ax.images[0].get_array() for ax in image_axes(fig)]
    assert all(a.shape == (1, 5) for a in arrays) and len(arrays) == 6
    with pytest.raises(ValueError, match="expected a convolution weight"):
        viz.kernel_grid(np.ones((3, 3)))


# ------------------------------------------------------------------ feature maps
def test_feature_maps_are_the_layers_output(tmp_path) -> None:
    x = np.zeros((1, 2, 8, 8))
    x[0, 0, :, 2] = 1.0
    x[0, 1, :, 6] = 1.0
    conv = nn.Conv2d(2, 3, 3, dtype=convkit.float64)
    fig = viz.feature_maps(conv, x, tmp_path / "fm.png")
    assert_png(tmp_path / "fm.png")
    expected = torch_twin(conv)(torch.from_numpy(x)).detach().numpy()[0]
    drawn = {ax.get_title(): ax.images[0].get_array() for ax in fig.axes
             if ax.get_visible() and ax.images and ax.get_title()}
    for k in range(3):
        np.testing.assert_allclose(drawn[f"output channel {k}"], expected[k], rtol=1e-12)
    np.testing.assert_array_equal(drawn["input channel 1"], x[0, 1])


def test_feature_maps_of_a_model_and_bad_sample(tmp_path) -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    fig = viz.feature_maps(model, np.random.default_rng(0).random((2, 1, 8, 8)),
                           tmp_path / "m.png", sample=1)
    assert_png(tmp_path / "m.png")
    assert "output (2, 4, 4, 4)" in fig.get_suptitle()
    with pytest.raises(IndexError, match="sample 2 is out of range"):
        viz.feature_maps(model, np.zeros((2, 1, 8, 8)), sample=2)


# ------------------------------------------------------------------ wiring
@settings(SETTINGS, max_examples=20)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3))
def test_wiring_matrix_is_what_perturbing_inputs_shows(groups: int, in_per: int,
                                                       out_per: int) -> None:
    c_in, c_out = groups * in_per, groups * out_per
    layer = nn.Conv2d(c_in, c_out, 3, groups=groups, bias=False, dtype=convkit.float64)
    twin = torch_twin(layer)
    reached = np.zeros((c_out, c_in), bool)
    for c in range(c_in):
        x = torch.zeros(1, c_in, 4, 4, dtype=torch.float64)
        x[0, c] = 1.0
        reached[:, c] = twin(x).abs().sum((0, 2, 3)).detach().numpy() > 0
    np.testing.assert_array_equal(viz.wiring_matrix(layer), reached)


def test_wiring_diagram_counts_parameters_and_macs(tmp_path) -> None:
    conv = nn.Conv2d(4, 6, 3, groups=2)
    fig = viz.wiring_diagram(conv, tmp_path / "w.png", input_shape=(1, 4, 8, 8))
    assert_png(tmp_path / "w.png")
    title = fig.get_suptitle()
    twin, dense = torch_twin(conv), torch.nn.Conv2d(4, 6, 3)
    out = twin(torch.zeros(1, 4, 8, 8, dtype=torch.float64))
    macs = out.numel() * (4 // 2) * 9  # one multiply-add per weight tap per output element
    assert f"weights {twin.weight.numel():,} vs {dense.weight.numel():,} at groups=1" in title
    assert f"MACs {macs:,} vs {2 * macs:,}" in title
    assert "each output channel reads 2 of 4 input channels" in title
    matrix_ax = next(ax for ax in fig.axes if ax.get_title().startswith("wiring matrix"))
    drawn = matrix_ax.images[0].get_array()
    np.testing.assert_array_equal(drawn > 0, viz.wiring_matrix(conv))
    with pytest.raises(TypeError, match="no in_channels"):
        viz.wiring_diagram(nn.MaxPool2d(2))


# ------------------------------------------------------------------ receptive field
conv_configs = st.fixed_dictionaries({
    "kernel": st.integers(1, 4), "stride": st.integers(1, 3), "padding": st.integers(0, 2),
    "dilation": st.integers(1, 3), "size": st.integers(5, 12)})


def torch_support(twin: torch.nn.Module, shape: tuple[int, ...], index: tuple[int, ...]
                  ) -> np.ndarray:
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    twin(x)[index].backward()
    return (x.grad.abs().sum((0, 1)) > 0).numpy()


@SETTINGS
@given(conv_configs, st.data())
def test_receptive_field_is_where_torchs_gradient_is_nonzero(cfg: dict, data) -> None:
    size = cfg["size"]
    if cfg["dilation"] * (cfg["kernel"] - 1) + 1 > size + 2 * cfg["padding"]:
        return  # no output at all: the layer refuses the input (tested elsewhere)
    layer = nn.Conv2d(2, 3, cfg["kernel"], stride=cfg["stride"], padding=cfg["padding"],
                      dilation=cfg["dilation"], dtype=convkit.float64)
    twin = torch_twin(layer)
    shape = (1, 2, size, size + 1)
    out_shape = twin(torch.zeros(shape, dtype=torch.float64)).shape
    index = (0, data.draw(st.integers(0, 2)), data.draw(st.integers(0, out_shape[2] - 1)),
             data.draw(st.integers(0, out_shape[3] - 1)))
    mask, magnitude, full, got_shape = viz.receptive_field_mask(layer, shape, index, trials=1)
    assert full == index and got_shape == tuple(out_shape)
    np.testing.assert_array_equal(mask, torch_support(twin, shape, index))
    assert (magnitude[mask] > 0).all()


@pytest.mark.parametrize("algorithm", [None, "winograd4", "fft"])
def test_receptive_field_is_exact_whatever_algorithm_is_forced(algorithm) -> None:
    """Winograd's and FFT's rounding leaves ~1e-9 gradients on pixels an output never reads;
    they must not enter the field (a 3x3 kernel's field was once drawn 5x5). With 32 float32
    inputs the planner itself picks Winograd for this layer's backward pass."""
    layer = nn.Conv2d(4, 4, 3, groups=2)
    with convkit.backends.algorithm(algorithm):
        mask, *_ = viz.receptive_field_mask(layer, (1, 4, 8, 8), (0, 0, 3, 3),
                                            trials=32)
        assert convkit.backends.get_algorithm() == algorithm  # restored afterwards
    expected = np.zeros((8, 8), dtype=bool)
    expected[3:6, 3:6] = True
    np.testing.assert_array_equal(mask, expected)
    fig = viz.explain_figure(layer, (1, 4, 8, 8))
    assert "rows 3-5, columns 3-5 (3 x 3): 9 pixels" in fig.get_suptitle()


def test_receptive_field_figure_highlights_the_gradient_support(tmp_path) -> None:
    stack = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, dtype=convkit.float64),
                          nn.Conv2d(2, 1, 3, dilation=2, dtype=convkit.float64))
    twin = torch.nn.Sequential(torch_twin(stack[0]), torch_twin(stack[1]))
    fig = viz.receptive_field(stack, (1, 1, 15, 15), (1, 1), tmp_path / "rf.png")
    assert_png(tmp_path / "rf.png")
    shaded = fig.axes[0].images[1].get_array()
    highlighted = ~np.ma.getmaskarray(shaded) & ~np.isnan(np.ma.getdata(shaded))
    np.testing.assert_array_equal(highlighted,
                                  torch_support(twin, (1, 1, 15, 15), (0, 0, 1, 1)))
    # stride 2 then dilation 2: first-layer rows 1, 3, 5 read input rows 2-4, 6-8, 10-12
    assert ("rows 2-12, columns 2-12 (11 x 11): 81 pixels of the 121 in the red box"
            in fig.get_suptitle())


def test_receptive_field_of_a_nonlinear_model_restores_its_state() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.5))
    model.train()
    mask, *_ = viz.receptive_field_mask(model, (1, 1, 10, 10), (1, 1), trials=8)
    assert model.training and all(p.grad is None for p in model.parameters())
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    # pool window 2 at stride 2 over a 3x3 conv: at most rows/cols 2..5
    assert rows.min() >= 2 and rows.max() <= 5 and cols.min() >= 2 and cols.max() <= 5
    assert mask.sum() > 0
    with pytest.raises(IndexError, match="out of range"):
        viz.receptive_field_mask(model, (1, 1, 10, 10), (9, 9))
    with pytest.raises(ValueError, match="does not fit the output shape"):
        viz.receptive_field_mask(model, (1, 1, 10, 10), (1,))


# ------------------------------------------------------------------ sliding window
window_convs = st.fixed_dictionaries({
    "groups": st.integers(1, 2), "in_per": st.integers(1, 2), "out_per": st.integers(1, 2),
    "kernel": st.integers(1, 3), "stride": st.integers(1, 2),
    "padding": st.sampled_from([0, 1, 2, "same"]), "dilation": st.integers(1, 2),
    "mode": st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    "bias": st.booleans(), "size": st.integers(4, 7)})


@SETTINGS
@given(window_convs, st.data())
def test_sliding_window_sum_by_hand_is_torchs_output(cfg: dict, data) -> None:
    stride = 1 if cfg["padding"] == "same" else cfg["stride"]
    layer = nn.Conv2d(cfg["groups"] * cfg["in_per"], cfg["groups"] * cfg["out_per"],
                      cfg["kernel"], stride=stride, padding=cfg["padding"],
                      dilation=cfg["dilation"], groups=cfg["groups"], bias=cfg["bias"],
                      padding_mode=cfg["mode"], dtype=convkit.float64)
    x = np.random.default_rng(0).standard_normal((1, layer.in_channels, cfg["size"],
                                                  cfg["size"] + 1))
    twin = torch_twin(layer)
    try:
        expected = twin(torch.from_numpy(x)).detach().numpy()
    except RuntimeError:
        return  # e.g. reflect padding as wide as the input: both libraries refuse
    index = tuple(data.draw(st.integers(0, s - 1)) for s in expected.shape[1:])
    info = viz.window_terms(layer, x, index)
    assert info["index"] == (0, *index)
    assert info["by_hand"] == pytest.approx(expected[(0, *index)], abs=1e-12)
    assert info["output"] == pytest.approx(expected[(0, *index)], abs=1e-12)
    group = index[0] // cfg["out_per"]
    assert info["channels"] == list(range(group * cfg["in_per"], (group + 1) * cfg["in_per"]))


pools = st.fixed_dictionaries({
    "kind": st.sampled_from(["max", "avg"]), "kernel": st.integers(1, 3),
    "stride": st.integers(1, 3), "pad": st.integers(0, 1), "dilation": st.integers(1, 2),
    "ceil": st.booleans(), "include": st.booleans(), "size": st.integers(3, 7)})


@SETTINGS
@given(pools, st.data())
def test_sliding_window_pooling_by_hand_is_torchs_output(cfg: dict, data) -> None:
    pad = min(cfg["pad"], cfg["kernel"] // 2)
    if cfg["kind"] == "max":
        layer = nn.MaxPool2d(cfg["kernel"], cfg["stride"], pad, cfg["dilation"],
                             ceil_mode=cfg["ceil"])
    else:
        layer = nn.AvgPool2d(cfg["kernel"], cfg["stride"], pad, ceil_mode=cfg["ceil"],
                             count_include_pad=cfg["include"])
    x = np.random.default_rng(1).standard_normal((1, 2, cfg["size"], cfg["size"]))
    try:
        expected = torch_twin(layer)(torch.from_numpy(x)).numpy()
    except RuntimeError:
        return  # the output would be empty
    index = tuple(data.draw(st.integers(0, s - 1)) for s in expected.shape[1:])
    info = viz.window_terms(layer, x, index)
    assert info["by_hand"] == pytest.approx(expected[(0, *index)], abs=1e-12)


def test_sliding_window_figure_shows_the_seed_step_edge_sum(tmp_path) -> None:
    arr = np.zeros((1, 1, 8, 8))
    arr[..., :4] = 4.0
    arr[..., 4:] = 1.0
    conv = nn.Conv2d(1, 1, 3, bias=False, dtype=convkit.float64)
    with convkit.no_grad():
        conv.weight.copy_(convkit.tensor([[[[-1.0, 0.0, 1.0]] * 3]], dtype=convkit.float64))
    fig = viz.sliding_window(conv, arr, (0, 2), tmp_path / "sw.png")
    assert_png(tmp_path / "sw.png")
    title = fig.get_suptitle()
    assert "4\u00b7(-1) + 4\u00b70 + 1\u00b71" in title and title.endswith("layer output: -9")
    assert "the kernel is NOT flipped" in title
    viz.sliding_window(nn.Conv1d(2, 2, 3, padding=1), np.ones((1, 2, 9)), (1, 4),
                       tmp_path / "sw1.png")
    assert_png(tmp_path / "sw1.png", min_size=(200, 100))
    with pytest.raises(TypeError, match="transposed"):
        viz.sliding_window(nn.ConvTranspose2d(1, 1, 3), arr, (0, 0))


# ------------------------------------------------------------------ contamination
@pytest.mark.parametrize("stride,padding,dilation", [(1, 1, 1), (2, 2, 1), (1, 2, 2)])
def test_contamination_map_draws_the_padding_share(tmp_path, stride, padding, dilation) -> None:
    layer = nn.Conv2d(1, 1, 3, stride=stride, padding=padding, dilation=dilation)
    path = tmp_path / "c.png" if stride == padding == dilation == 1 else None  # render once
    fig = viz.contamination_map(layer, (1, 1, 7, 7), ["zeros", "replicate"], path)
    if path is not None:
        assert_png(path)
    # oracle: the real taps of each window, counted by torch on an all-ones input
    real = torch.nn.functional.conv2d(torch.ones(1, 1, 7, 7), torch.ones(1, 1, 3, 3),
                                      stride=stride, padding=padding, dilation=dilation)[0, 0]
    expected = 1.0 - real.numpy() / 9.0
    shares = [ax.images[0].get_array() for ax in fig.axes
              if ax.images and ax.get_title().startswith("padding_mode")]
    assert len(shares) >= 2
    for drawn in shares[:2]:  # the share row: one panel per mode, equal for one layer
        np.testing.assert_allclose(drawn, expected, atol=1e-12)


# ------------------------------------------------------------------ the rest
def test_explain_figure_array_panels_and_loss_curve(tmp_path) -> None:
    fig = viz.explain_figure(nn.Conv2d(4, 4, 3, groups=2), (1, 4, 8, 8), tmp_path / "e.png")
    assert_png(tmp_path / "e.png")
    assert "groups=2" in fig.get_suptitle()
    fig = viz.explain_figure(nn.MaxPool2d(2, ceil_mode=True), (1, 1, 7, 7))
    assert "receptive field of output (0, 0, 2, 2): rows 4-5, columns 4-5" in (
        fig.get_suptitle())
    arr = np.arange(12.0).reshape(3, 4)
    fig = viz.array_panels({"a": arr, "row": np.arange(3)}, title="t")
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), arr)
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), [[0, 1, 2]])
    with pytest.raises(ValueError, match="1-d or 2-d"):
        viz.array_panels({"cube": np.zeros((2, 2, 2))})
    losses = [4.0, 1.0, 0.25, 0.0625]
    fig = viz.loss_curve(losses, tmp_path / "l.png")
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), losses)
    assert fig.axes[0].get_yscale() == "log"
    assert_png(tmp_path / "l.png")


def test_missing_matplotlib_gives_the_install_hint(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r"pip install 'convkit\[viz\]'"):
        viz.loss_curve([1.0, 0.5])


def test_pictures_never_touch_pyplot(tmp_path) -> None:
    code = ("import sys; from convkit import nn; from convkit.explain import viz; "
            f"viz.kernel_grid(nn.Conv2d(1, 2, 3), {str(tmp_path / 'k.png')!r}); "
            "print('matplotlib.pyplot' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
