"""Pictures of convolution layers, drawn from real computation (the ``viz`` extra).

Every function returns a matplotlib :class:`~matplotlib.figure.Figure` and, given ``path``,
also writes it as a PNG. Figures are built on the Agg canvas, never through ``pyplot``: no
window opens, nothing is shown, no global figure list grows; a notebook displays the returned
Figure as usual.

=====================  ======================================================================
function               what it draws
=====================  ======================================================================
``kernel_grid``        the weight as a grid of kernels, out channel x in channel (of its group)
``feature_maps``       a layer's output channels for one input sample
``wiring_diagram``     which input channels feed which output channels under ``groups``
``receptive_field``    the input pixels one output pixel depends on (from real gradients)
``sliding_window``     one window position: input taps, kernel, and the output value by hand
``contamination_map``  per output pixel, the share of its receptive field made of padding
``array_panels``       small arrays side by side with their values written in (for teaching)
``loss_curve``         a loss per step, as optimisation records it
``explain_figure``     the picture ``convkit explain --png`` writes
=====================  ======================================================================

Colours follow one rule: weights and signed values use a diverging map centred on zero (red
positive, blue negative) with a symmetric scale; images use gray.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import convkit
from convkit.autograd.tensor import Tensor
from convkit.nn import functional as F
from convkit.nn.modules.module import Module

__all__ = ["array_panels", "contamination_map", "explain_figure", "feature_maps",
           "kernel_grid", "loss_curve", "receptive_field", "receptive_field_mask",
           "sliding_window", "window_terms", "wiring_diagram", "wiring_matrix"]

SIGNED_CMAP = "RdBu_r"
IMAGE_CMAP = "gray"
HEAT_CMAP = "YlOrRd"
GROUP_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf")
# Beyond this many cells an array is drawn without its values written in: the digits would
# not be readable.
ANNOTATE_MAX_SIDE = 12


# ------------------------------------------------------------------ plumbing
def _new_figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("convkit's pictures need matplotlib: pip install 'convkit[viz]'"
                          ) from None
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _finish(fig: Any, path: str | os.PathLike[str] | None) -> Any:
    if path is not None:
        fig.savefig(os.fspath(path), dpi=110, facecolor="white")
    return fig


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach().numpy()
    return np.asarray(x)


def _describe(obj: Any) -> str:
    """A one-line name for a layer (its repr if it fits on a line)."""
    text = repr(obj)
    return text if "\n" not in text and len(text) <= 90 else type(obj).__name__


def _param_dtype(model: Any) -> Any:
    for p in model.parameters() if isinstance(model, Module) else ():
        if p.dtype.is_floating_point:
            return p.dtype
    return convkit.get_default_dtype()


def _as_input(x: Any, model: Any, spatial_dims: int | None = None) -> Tensor:
    """``x`` as a batched ``(N, C, *spatial)`` Tensor in the model's float dtype.

    ``(H, W)`` becomes ``(1, 1, H, W)`` and ``(C, H, W)`` becomes ``(1, C, H, W)`` when the
    layer has 2 spatial dims (``spatial_dims``).
    """
    t = x.detach() if isinstance(x, Tensor) else convkit.from_numpy(np.array(x))
    if spatial_dims is not None:
        while t.ndim < spatial_dims + 2:
            t = t.unsqueeze(0)
    has_weights = isinstance(model, Module) and any(
        p.dtype.is_floating_point for p in model.parameters())
    if has_weights:
        dtype = _param_dtype(model)
    else:  # pooling and padding take any float input as it is
        dtype = t.dtype if t.dtype.is_floating_point else convkit.get_default_dtype()
    return t.to(dtype) if t.dtype != dtype else t


def _short(v: float) -> str:
    """A number short enough to write inside a cell."""
    if not math.isfinite(v):
        return str(v)
    if abs(v - round(v)) < 1e-9 and abs(v) < 1e5:
        return str(round(v))
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _annotate(ax: Any, values: np.ndarray, norm: Any = None, cmap: Any = None,
              fontsize: float | None = None) -> None:
    """Write each value into its cell, in black or white, whichever reads on the colour."""
    rows, cols = values.shape
    if max(rows, cols) > ANNOTATE_MAX_SIDE:
        return
    longest = max((len(_short(float(v))) for v in values.ravel()), default=1)
    size = fontsize or (9 if max(rows, cols) <= 6 and longest <= 4 else 7)
    for i in range(rows):
        for j in range(cols):
            v = float(values[i, j])
            colour = "black"
            if norm is not None and cmap is not None and math.isfinite(v):
                r, g, b, _ = cmap(norm(v))
                colour = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
            ax.text(j, i, _short(v), ha="center", va="center", fontsize=size, color=colour)


def _font_for(values: np.ndarray) -> float:
    """One font size for a set of small arrays drawn side by side (so that all kernels of a
    grid read alike): smaller when the numbers are long."""
    longest = max((len(_short(float(v))) for v in values.ravel()), default=1)
    return 8.5 if longest <= 4 else 7.0


def _cell_ticks(ax: Any, rows: int, cols: int, every: int | None = None) -> None:
    """Integer ticks at cell centres (every ``every`` cells on big arrays)."""
    step_r = every or max(1, math.ceil(rows / 12))
    step_c = every or max(1, math.ceil(cols / 12))
    ax.set_xticks(range(0, cols, step_c))
    ax.set_yticks(range(0, rows, step_r))
    ax.tick_params(labelsize=7, length=2)


def _show(ax: Any, values: np.ndarray, signed: bool | None = None, cmap: str | None = None,
          vmax: float | None = None, annotate: bool = True,
          fontsize: float | None = None) -> Any:
    """imshow ``values`` (2-d) with cell-centred integer ticks; diverging and symmetric if
    ``signed`` (default: when any value is negative)."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    values = np.asarray(values, dtype=np.float64)
    if signed is None:
        signed = bool((values < 0).any())
    if signed:
        top = vmax if vmax is not None else float(np.abs(values).max()) or 1.0
        norm = Normalize(-top, top)
        cmap_obj = colormaps[cmap or SIGNED_CMAP]
    else:
        lo = min(float(values.min()), 0.0) if values.size else 0.0
        hi = vmax if vmax is not None else (float(values.max()) if values.size else 1.0)
        norm = Normalize(lo, hi if hi > lo else lo + 1.0)
        cmap_obj = colormaps[cmap or IMAGE_CMAP]
    image = ax.imshow(values, cmap=cmap_obj, norm=norm, interpolation="nearest")
    _cell_ticks(ax, *values.shape)
    if annotate:
        _annotate(ax, values, norm, cmap_obj, fontsize)
    return image


def _spatial_2d(a: np.ndarray) -> np.ndarray:
    """A 1-d signal as a one-row image; 2-d unchanged."""
    return a[None, :] if a.ndim == 1 else a


# ------------------------------------------------------------------ array panels, loss curve
def array_panels(panels: Mapping[str, Any] | Sequence[tuple[str, Any]],
                 path: str | os.PathLike[str] | None = None, *, title: str | None = None,
                 note: str | None = None) -> Any:
    """Small 1-d or 2-d arrays side by side, each with its values written in its cells.

    Each panel gets its own colour scale (diverging around zero when it has negative
    values, gray otherwise), integer row/column ticks and its title (the mapping key).
    """
    items = list(panels.items()) if isinstance(panels, Mapping) else list(panels)
    if not items:
        raise ValueError("array_panels: no panels given")
    arrays = [(name, _spatial_2d(_numpy(a).astype(np.float64))) for name, a in items]
    for name, a in arrays:
        if a.ndim != 2:
            raise ValueError(f"array_panels: panel {name!r} must be 1-d or 2-d, got shape "
                             f"{a.shape}")
    widths = [max(a.shape[1], 2) for _, a in arrays]
    height = max(a.shape[0] for _, a in arrays)
    fig = _new_figure(min(2.0 + 0.42 * sum(widths) + 0.6 * len(arrays), 18),
                      1.4 + 0.42 * max(height, 3) + (0.3 if note else 0))
    axes = fig.subplots(1, len(arrays), squeeze=False, width_ratios=widths)[0]
    for ax, (name, a) in zip(axes, arrays, strict=True):
        _show(ax, a)
        ax.set_title(f"{name}\nshape {a.shape if a.shape[0] > 1 else (a.shape[1],)}",
                     fontsize=9)
        ax.set_xlabel("column", fontsize=8)
        ax.set_ylabel("row", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    if note:
        fig.supxlabel(note, fontsize=9)
    return _finish(fig, path)


def loss_curve(losses: Sequence[float], path: str | os.PathLike[str] | None = None, *,
               title: str = "loss during training", xlabel: str = "step",
               ylabel: str = "loss", log: bool = True, first_step: int = 1) -> Any:
    """A line of ``losses`` against their step number (log scale by default, where a
    geometric decay is a straight line)."""
    values = np.asarray(list(losses), dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("loss_curve: expected a non-empty sequence of numbers")
    steps = np.arange(first_step, first_step + values.size)
    fig = _new_figure(6.0, 3.6)
    ax = fig.add_subplot()
    ax.plot(steps, values, marker="o", markersize=3)
    if log and (values > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (log scale)" if log and (values > 0).all() else ""))
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.annotate(f"last: {values[-1]:.3g}", (steps[-1], values[-1]), textcoords="offset points",
                xytext=(-6, 14), ha="right", fontsize=8,
                bbox={"boxstyle": "round", "fc": "white", "ec": "#cccccc"})
    ax.annotate(f"{values[0]:.4g}", (steps[0], values[0]), textcoords="offset points",
                xytext=(8, 0), ha="left", fontsize=8)
    return _finish(fig, path)


# ------------------------------------------------------------------ kernel grid
def kernel_grid(layer_or_weight: Any, path: str | os.PathLike[str] | None = None, *,
                max_channels: int = 16, title: str | None = None) -> Any:
    """The weight of a convolution layer as a grid of kernels.

    For ``Conv*d`` the weight is ``(out_channels, in_channels/groups, *kernel_size)``: row
    ``o`` holds the kernels that make output channel ``o``, column ``c`` the one applied to
    the ``c``-th input channel of its group. For ``ConvTranspose*d`` the weight is
    ``(in_channels, out_channels/groups, *kernel_size)`` and rows are input channels. 1-d
    kernels are drawn as one-row images, 3-d kernels by their middle depth slice. All
    kernels share one symmetric colour scale (red > 0 > blue) with a colorbar; small kernels
    have their values written in. At most ``max_channels`` rows and columns are drawn.
    A weight with one column (a single input channel, or depthwise) is wrapped into a
    square-ish grid, each kernel titled with its channels.
    """
    layer = layer_or_weight if isinstance(layer_or_weight, Module) else None
    weight = getattr(layer_or_weight, "weight", layer_or_weight)
    w = _numpy(weight).astype(np.float64)
    if w.ndim < 3 or w.ndim > 5:
        raise ValueError("kernel_grid: expected a convolution weight (out, in/groups, "
                         f"*kernel_size) with 1 to 3 kernel dims, got shape {w.shape}")
    note = ""
    if w.ndim == 3:
        kernels = w[:, :, None, :]  # (A, B, 1, k): 1-d kernels as one-row images
    elif w.ndim == 5:
        mid = w.shape[2] // 2
        kernels = w[:, :, mid]  # (A, B, kH, kW)
        note = f"; depth slice {mid} of {w.shape[2]} shown"
    else:
        kernels = w
    transposed = bool(getattr(layer, "transposed", False))
    groups = int(getattr(layer, "groups", 1))
    n_rows, n_cols = kernels.shape[:2]
    kh, kw = kernels.shape[2:]
    cell = 0.55 + 0.18 * max(kh, kw) if max(kh, kw) <= 7 else 1.6
    row_name, col_name = ("in", "out") if transposed else ("out", "in")
    head = title or (f"{_describe(layer)}" if layer is not None else "convolution weight")
    if n_cols == 1 and n_rows > 4:
        return _kernel_column(kernels[:, 0], w.shape, head, note, row_name, col_name, groups,
                              max_channels * max_channels, cell, path)
    rows, cols = min(n_rows, max_channels), min(n_cols, max_channels)
    label_cells = groups > 1 and rows * cols <= 36  # each cell names its input channel
    fig = _new_figure(min(max(1.6 + cols * cell * max(kw / max(kh, 1), 0.6) + 1.2, 6.4), 20),
                      min(1.5 + rows * (cell + 0.22 * label_cells), 22))
    axes = fig.subplots(rows, cols, squeeze=False)
    top = float(np.abs(w).max()) or 1.0
    annotate = kh * kw <= 25 and rows * cols <= 36
    size = _font_for(kernels[:rows, :cols])
    per_group_rows = n_rows // groups
    image = None
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            image = _show(ax, kernels[r, c], signed=True, vmax=top, annotate=annotate,
                          fontsize=size)
            ax.set_xticks([])
            ax.set_yticks([])
            g = r // per_group_rows
            if label_cells:
                ax.set_title(f"{col_name} channel {g * n_cols + c}", fontsize=7.5)
            elif r == 0:
                header = (f"{col_name} channel {c}" if groups == 1 else
                          f"{col_name} {c} of its group")
                ax.set_title(header, fontsize=8)
            if c == 0:
                label = f"{row_name} channel {r}"
                if groups > 1:
                    arrow = "\u2192" if transposed else "\u2190"
                    label += f"\n{arrow} {col_name} {g * n_cols}-{(g + 1) * n_cols - 1}"
                ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight value")
    shown = ""
    if rows < n_rows or cols < n_cols:
        shown = f" (first {rows} x {cols} of {n_rows} x {n_cols} shown)"
    kind = (f"one row per {row_name} channel, one column per {col_name} channel"
            + (f" of the row's group (groups={groups})" if groups > 1 else ""))
    fig.suptitle(f"{head}\nweight {tuple(w.shape)}{shown}{note}:\n{kind}", fontsize=9.5)
    return _finish(fig, path)


def _kernel_column(kernels: np.ndarray, shape: tuple[int, ...], head: str, note: str,
                   row_name: str, col_name: str, groups: int, limit: int, cell: float,
                   path: str | os.PathLike[str] | None) -> Any:
    """``kernels`` ``(A, kH, kW)``, one per row channel, wrapped into a grid."""
    count = min(kernels.shape[0], limit)
    cols = min(8, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / cols)
    kh, kw = kernels.shape[1:]
    fig = _new_figure(min(max(1.8 + cols * (cell + 0.15), 6.4), 20),
                      min(1.5 + rows * (cell + 0.25), 22))
    axes = fig.subplots(rows, cols, squeeze=False)
    top = float(np.abs(kernels).max()) or 1.0
    annotate = kh * kw <= 25 and count <= 36
    size = _font_for(kernels[:count])
    per_group = kernels.shape[0] // groups
    image = None
    for k, ax in enumerate(axes.ravel()):
        if k >= count:
            ax.set_visible(False)
            continue
        image = _show(ax, kernels[k], signed=True, vmax=top, annotate=annotate,
                      fontsize=size)
        ax.set_xticks([])
        ax.set_yticks([])
        source = f"{col_name} {k // per_group}" if groups > 1 else f"{col_name} 0"
        arrow = "\u2192" if row_name == "in" else "\u2190"
        ax.set_title(f"{row_name} {k} {arrow} {source}", fontsize=7.5)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight value")
    shown = f" (first {count} of {kernels.shape[0]} shown)" if count < kernels.shape[0] else ""
    kind = (f"one kernel per {row_name} channel, each reading one {col_name} channel"
            + (f" (groups={groups})" if groups > 1 else ""))
    fig.suptitle(f"{head}\nweight {tuple(shape)}{shown}{note}:\n{kind}", fontsize=9.5)
    return _finish(fig, path)


# ------------------------------------------------------------------ feature maps
def feature_maps(layer: Any, input: Any, path: str | os.PathLike[str] | None = None, *,
                 sample: int = 0, max_channels: int = 16, title: str | None = None) -> Any:
    """The output channels a layer (or model) gives for one sample of ``input``.

    ``input`` is ``(N, C, H, W)`` (or unbatched ``(C, H, W)`` / ``(H, W)`` for a 2-d layer);
    the layer runs once, without recording gradients. The first panel is the input sample
    (its first channel if it has several), the others are the output channels on one shared
    colour scale (diverging when the maps have negative values), with a colorbar.
    """
    spatial = _spatial_dims(layer)
    x = _as_input(input, layer, spatial)
    with convkit.no_grad():
        y = layer(x)
    if not isinstance(y, Tensor):
        raise TypeError(f"feature_maps: the layer returned {type(y).__name__}, not a Tensor")
    out = _numpy(y).astype(np.float64)
    if out.ndim not in (3, 4):
        raise ValueError(f"feature_maps: expected an output (N, C, L) or (N, C, H, W), got "
                         f"shape {tuple(out.shape)}")
    if not 0 <= sample < out.shape[0]:
        raise IndexError(f"feature_maps: sample {sample} is out of range for batch size "
                         f"{out.shape[0]}")
    maps = out[sample]  # (C, H, W) or (C, L)
    source = _numpy(x)[sample].astype(np.float64)  # (C_in, *spatial)
    channels = min(maps.shape[0], max_channels)
    inputs = min(source.shape[0], 4)
    ncols = max(min(channels, 6), inputs)
    out_rows = math.ceil(channels / ncols)
    fig = _new_figure(1.4 + 2.1 * ncols, 1.0 + 2.1 * (1 + out_rows))
    axes = fig.subplots(1 + out_rows, ncols, squeeze=False)
    in_axes, out_axes = axes[0], axes[1:].ravel()
    for ax in [*in_axes[inputs:], *out_axes[channels:]]:
        ax.set_visible(False)
    for c in range(inputs):
        _show(in_axes[c], _spatial_2d(source[c]), signed=None, annotate=False)
        in_axes[c].set_title("input" if source.shape[0] == 1 else f"input channel {c}",
                             fontsize=9)
    signed = bool((maps < 0).any())
    top = float(np.abs(maps).max()) or 1.0
    image = None
    for k in range(channels):
        m = _spatial_2d(maps[k])
        if signed:
            image = _show(out_axes[k], m, signed=True, vmax=top, annotate=False)
        else:
            image = _show(out_axes[k], m, signed=False, cmap="viridis", vmax=top,
                          annotate=False)
        out_axes[k].set_title(f"output channel {k}", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=list(out_axes[:channels]), shrink=0.8, label="output value")
    shown = f" (first {channels} of {maps.shape[0]} channels)" if channels < maps.shape[0] else ""
    if inputs < source.shape[0]:
        shown += f"; first {inputs} of {source.shape[0]} input channels drawn"
    head = title or _describe(layer)
    fig.suptitle(f"{head}\noutput {tuple(out.shape)} for input {tuple(x.shape)}: sample "
                 f"{sample}{shown}, one shared colour scale", fontsize=10)
    return _finish(fig, path)


def _spatial_dims(layer: Any) -> int | None:
    """The number of spatial dims a layer works on, if it says (Conv2d: 2), else None."""
    if isinstance(layer, Module):
        for m in layer.modules():
            ks = getattr(m, "kernel_size", None)
            if isinstance(ks, tuple):
                return len(ks)
            n = getattr(m, "ndim", None)
            if isinstance(n, int):
                return n
    return None


# ------------------------------------------------------------------ groups wiring
def wiring_matrix(layer: Any) -> np.ndarray:
    """Boolean ``(out_channels, in_channels)``: whether output channel ``o`` reads input
    channel ``c``. With ``groups = g`` the channels are split into ``g`` consecutive blocks
    and block ``k`` of the outputs reads only block ``k`` of the inputs (PyTorch's rule; the
    tests check it against perturbing one input channel at a time)."""
    c_in, c_out, groups = _channels(layer)
    in_block = np.arange(c_in) // (c_in // groups)  # (C_in,): group of each input channel
    out_block = np.arange(c_out) // (c_out // groups)  # (C_out,)
    return out_block[:, None] == in_block[None, :]  # (C_out, C_in)


def _channels(layer: Any) -> tuple[int, int, int]:
    try:
        return int(layer.in_channels), int(layer.out_channels), int(getattr(layer, "groups", 1))
    except AttributeError:
        raise TypeError(f"{type(layer).__name__} has no in_channels/out_channels: the wiring "
                        "diagram is for convolution layers") from None


def _report(layer: Any, input_shape: Sequence[int] | None) -> Any:
    """The colleague module's explain report when it exists and accepts the layer."""
    if input_shape is None:
        return None
    try:
        from convkit.explain import explain
    except ImportError:
        return None
    try:
        return explain(layer, tuple(input_shape))
    except (TypeError, ValueError, NotImplementedError):
        return None


def _output_shape(layer: Any, input_shape: Sequence[int]) -> tuple[int, ...]:
    """By running the layer on zeros of ``input_shape``."""
    x = convkit.zeros(*input_shape, dtype=_param_dtype(layer))
    with convkit.no_grad():
        return tuple(layer(x).shape)


def _conv_costs(layer: Any, input_shape: Sequence[int] | None, report: Any = None
                ) -> dict[str, Any]:
    """Weights, bias and MACs of ``layer``, and what groups=1 would cost (MACs from the
    explain ``report`` when there is one, else counted here)."""
    c_in, c_out, groups = _channels(layer)
    taps = int(np.prod(layer.kernel_size))
    weights = int(layer.weight.numel())
    bias = int(layer.bias.numel()) if getattr(layer, "bias", None) is not None else 0
    costs: dict[str, Any] = {"weights": weights, "bias": bias,
                             "weights_dense": c_in * c_out * taps, "macs": None,
                             "macs_dense": None}
    macs = getattr(report, "macs", None)
    if macs is None and input_shape is not None:
        if getattr(layer, "transposed", False):
            # each input element scatters into out_channels/groups kernels of taps
            macs = int(np.prod(input_shape)) * (c_out // groups) * taps
        else:  # each output element gathers in_channels/groups kernels of taps
            macs = int(np.prod(_output_shape(layer, input_shape))) * (c_in // groups) * taps
    if macs is not None:
        costs["macs"] = int(macs)
        costs["macs_dense"] = int(macs) * groups  # every MAC count scales with 1/groups
    return costs


def _draw_wiring(ax: Any, ax_m: Any, layer: Any, input_shape: Sequence[int] | None
                 ) -> list[str]:
    """Draw the diagram on ``ax`` and the matrix on ``ax_m``; return the summary lines."""
    from matplotlib.patches import Polygon

    c_in, c_out, groups = _channels(layer)
    report = _report(layer, input_shape)
    wiring = getattr(report, "wiring", None)
    matrix = np.asarray(wiring, dtype=bool) if wiring is not None else wiring_matrix(layer)
    n = max(c_in, c_out)

    def ys(count: int) -> np.ndarray:  # one unit apart, top to bottom, centred on the taller side
        return (n - 1) / 2 + (count - 1) / 2 - np.arange(count)

    y_in, y_out = ys(c_in), ys(c_out)
    in_group = np.arange(c_in) // (c_in // groups)
    out_group = np.arange(c_out) // (c_out // groups)
    many = n > 32
    for g in range(groups):  # a faint band joining the group's inputs and outputs
        ins, outs = y_in[in_group == g], y_out[out_group == g]
        colour = GROUP_COLOURS[g % len(GROUP_COLOURS)]
        band = Polygon([(0, ins.max() + 0.3), (1, outs.max() + 0.3), (1, outs.min() - 0.3),
                        (0, ins.min() - 0.3)], closed=True, color=colour, alpha=0.08, lw=0)
        ax.add_patch(band)
    for o in range(c_out):
        for c in np.flatnonzero(matrix[o]):
            colour = GROUP_COLOURS[out_group[o] % len(GROUP_COLOURS)]
            ax.plot([0, 1], [y_in[c], y_out[o]], color=colour, lw=0.6 if many else 1.4,
                    alpha=0.5 if many else 0.85)
    ax.scatter(np.zeros(c_in), y_in, s=12 if many else 90, color="white", edgecolor="black",
               zorder=3)
    ax.scatter(np.ones(c_out), y_out, s=12 if many else 90, color="white", edgecolor="black",
               zorder=3)
    if not many:
        for c in range(c_in):
            ax.text(-0.06, y_in[c], f"in {c}", ha="right", va="center", fontsize=8)
        for o in range(c_out):
            ax.text(1.06, y_out[o], f"out {o}", ha="left", va="center", fontsize=8)
    ax.set_xlim(-0.35, 1.35)
    ax.set_ylim(-1, n)
    ax.axis("off")
    ax.set_title("input channels \u2192 output channels\n(one colour per group)", fontsize=9)
    # the same wiring as a matrix, each cell in its group's colour
    from matplotlib.colors import ListedColormap

    coloured = np.where(matrix, out_group[:, None] + 1, 0)  # (C_out, C_in): 0 = not wired
    cmap = ListedColormap(["white", *[GROUP_COLOURS[g % len(GROUP_COLOURS)]
                                      for g in range(groups)]])
    ax_m.imshow(coloured, cmap=cmap, vmin=-0.5, vmax=groups + 0.5, interpolation="nearest")
    _cell_ticks(ax_m, c_out, c_in)
    if max(c_in, c_out) <= 24:
        ax_m.set_xticks(np.arange(-0.5, c_in), minor=True)
        ax_m.set_yticks(np.arange(-0.5, c_out), minor=True)
        ax_m.grid(which="minor", color="#bbbbbb", lw=0.5)
        ax_m.tick_params(which="minor", length=0)
    ax_m.set_xlabel("input channel c", fontsize=8)
    ax_m.set_ylabel("output channel o", fontsize=8)
    ax_m.set_title("wiring matrix: o reads c", fontsize=9)
    costs = _conv_costs(layer, input_shape, report)
    bias = f", bias {costs['bias']:,}" if costs["bias"] else ""
    macs = (f"; MACs {costs['macs']:,}" if costs["macs"] is not None else "")
    shape = f" for input {tuple(input_shape)}" if costs["macs"] is not None else ""
    if groups == 1:
        return [f"groups=1: every output channel reads all {c_in} input channels",
                f"weights {costs['weights']:,}{bias}{macs}{shape}"]
    dense_ratio = costs["weights_dense"] / costs["weights"]
    lines = [f"groups={groups}: each output channel reads {c_in // groups} of {c_in} input "
             f"channels",
             f"weights {costs['weights']:,} vs {costs['weights_dense']:,} at groups=1 "
             f"({dense_ratio:g}x fewer)" + (f"{bias} either way" if bias else "")]
    if costs["macs"] is not None:
        lines[-1] += f"{macs} vs {costs['macs_dense']:,}{shape}"
    return lines


def wiring_diagram(layer: Any, path: str | os.PathLike[str] | None = None, *,
                   input_shape: Sequence[int] | None = None) -> Any:
    """Which input channels feed which output channels, for a convolution with ``groups``.

    Left: input channels, output channels, a line for each connection, coloured by group.
    Right: the same as a ``(out_channels, in_channels)`` matrix. The title gives the weight
    count against ``groups=1`` and, when ``input_shape`` is given, the multiply-accumulates
    (MACs) of one forward pass against ``groups=1``.
    """
    c_in, c_out, _ = _channels(layer)
    n = max(c_in, c_out)
    fig = _new_figure(9.0, min(2.6 + 0.32 * n, 14))
    ax, ax_m = fig.subplots(1, 2, width_ratios=[1.5, 1])
    lines = _draw_wiring(ax, ax_m, layer, input_shape)
    fig.suptitle("\n".join([_describe(layer), *lines]), fontsize=9.5)
    return _finish(fig, path)


# ------------------------------------------------------------------ receptive field
def _output_index(index: Sequence[int] | int, out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """A full index into ``out_shape``: a spatial index gets sample 0 and channel 0 put in
    front; negative entries count from the end."""
    idx = (index,) if isinstance(index, int) else tuple(int(i) for i in index)
    spatial = len(out_shape) - 2
    if len(idx) == spatial:
        idx = (0, 0, *idx)
    elif len(idx) == spatial + 1:
        idx = (0, *idx)
    if len(idx) != len(out_shape):
        raise ValueError(f"index {tuple(index) if not isinstance(index, int) else index} does "
                         f"not fit the output shape {out_shape}: give {spatial} spatial "
                         f"indices, or (channel, ...) or (sample, channel, ...)")
    full = []
    for i, size in zip(idx, out_shape, strict=True):
        if not -size <= i < size:
            raise IndexError(f"index {tuple(idx)} is out of range for the output shape "
                             f"{out_shape}")
        full.append(i % size)
    return tuple(full)


def receptive_field_mask(model: Any, input_shape: Sequence[int], index: Sequence[int] | int,
                         *, trials: int = 32, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], tuple[int, ...]]:
    """The input pixels that output element ``index`` depends on, found by differentiating.

    For ``trials`` random inputs shaped like one sample of ``input_shape`` (seeded), the
    gradient of the output element with respect to the input is computed; a pixel belongs to
    the receptive field if its gradient is nonzero in some channel for some input. Several
    inputs matter for non-linear models, where one input switches paths off (a ReLU at zero,
    the losing entries of a max-pool window: with 32 inputs a 3x3 max-pool window is missed
    with probability below 1 in 1000). The inputs run as one batch (in chunks that keep it
    under 2**24 numbers), each sample differentiated on its own, so the model must treat
    samples independently, as every layer does in eval mode. The model runs in eval mode
    (restored afterwards) and its parameters' ``.grad`` are not touched. Convolutions run
    with the direct ``taps`` algorithm: Winograd's and FFT's rounding would leave tiny
    nonzero gradients on pixels the output does not read.

    Returns ``(mask, magnitude, index, output_shape)``: ``mask`` bool and ``magnitude``
    (mean absolute gradient over inputs and channels) with the input's spatial shape, the
    full output index, and the output shape for ``input_shape``.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) < 3 or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must be (N, C, *spatial) with positive sizes, got "
                         f"{tuple(input_shape)}")
    trials = max(int(trials), 1)
    per_sample = int(np.prod(shape[1:]))
    chunk = max(1, min(trials, 2**24 // per_sample))
    rng = np.random.default_rng(seed)
    dtype = _param_dtype(model)
    was_training = getattr(model, "training", False)
    if isinstance(model, Module):
        model.eval()
    try:
        magnitude = np.zeros(shape[2:])
        full: tuple[int, ...] = ()
        out_shape: tuple[int, ...] = ()
        done = 0
        # The planner may pick Winograd or FFT for the backward pass; both leave rounding
        # noise (~1e-9) on pixels the output never reads, which would paint them into the
        # field. The direct per-tap algorithm multiplies unread pixels by exact zeros.
        with convkit.backends.algorithm("taps"):
            while done < trials:
                size = min(chunk, trials - done)
                x = convkit.tensor(rng.standard_normal((size, *shape[1:])), dtype=dtype,
                                   requires_grad=True)  # (trials, C, *spatial)
                y = model(x)
                out_shape = (shape[0], *tuple(y.shape)[1:])
                full = _output_index(index, out_shape)
                # the chosen element of every sample; samples do not mix, so d(sum)/dx holds
                # each sample's own gradient
                picked = y[(slice(None), *full[1:])].sum()
                (grad,) = convkit.autograd.grad(picked, x, allow_unused=True,
                                                materialize_grads=True)
                magnitude += np.abs(_numpy(grad)).sum(axis=(0, 1))
                done += size
    finally:
        if isinstance(model, Module):
            model.train(was_training)
    magnitude /= trials * shape[1]
    return magnitude > 0, magnitude, full, out_shape


def _span(name: str, first: int, last: int) -> str:
    """``rows 3-5``, or ``row 3`` when the range is one index."""
    return f"{name} {first}" if first == last else f"{name}s {first}-{last}"


def _box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(row0, row1, col0, col1) inclusive bounds of the True cells of a 2-d mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def _draw_receptive_field(ax_in: Any, ax_out: Any, model: Any, input_shape: Sequence[int],
                          index: Sequence[int] | int, trials: int, seed: int) -> list[str]:
    """Draw the field on ``ax_in`` and the output element on ``ax_out``; return the summary
    lines."""
    from matplotlib.patches import Rectangle

    mask, magnitude, full, out_shape = receptive_field_mask(model, input_shape, index,
                                                            trials=trials, seed=seed)
    mask2, mag2 = _spatial_2d(mask), _spatial_2d(magnitude)
    # every pixel of the field visibly blue, the stronger ones darker
    shown = np.where(mask2, 0.35 + 0.65 * mag2 / (mag2.max() or 1.0), np.nan)
    ax_in.imshow(np.zeros_like(mag2), cmap="Greys", vmin=0, vmax=1)
    ax_in.imshow(shown, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    _cell_ticks(ax_in, *mask2.shape)
    if max(mask2.shape) <= 40:
        ax_in.set_xticks(np.arange(-0.5, mask2.shape[1]), minor=True)
        ax_in.set_yticks(np.arange(-0.5, mask2.shape[0]), minor=True)
        ax_in.grid(which="minor", color="#dddddd", lw=0.4)
        ax_in.tick_params(which="minor", length=0)
    bounds = _box(mask2)
    spatial = full[2:]
    if bounds is not None:
        r0, r1, c0, c1 = bounds
        ax_in.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False,
                                  edgecolor="red", lw=2))
    ax_in.set_title(f"input {tuple(input_shape)}: blue = pixels that reach it\n(darker = "
                    "larger |gradient|)", fontsize=9)
    ax_in.set_xlabel("column" if mask.ndim == 2 else "position", fontsize=8)
    ax_in.set_ylabel("row" if mask.ndim == 2 else "", fontsize=8)
    out_grid = np.zeros(_spatial_2d(np.zeros(out_shape[2:])).shape)
    sel = spatial if len(spatial) == 2 else (0, spatial[0])
    out_grid[sel] = 1.0
    ax_out.imshow(out_grid, cmap="Reds", vmin=0, vmax=1.4, interpolation="nearest")
    _cell_ticks(ax_out, *out_grid.shape)
    ax_out.set_title(f"output {out_shape}:\nelement {full}", fontsize=9)
    ax_out.set_xlabel("column" if mask.ndim == 2 else "position", fontsize=8)
    if bounds is None:
        summary = "no input pixel reaches it (its gradient is zero everywhere)"
    else:
        r0, r1, c0, c1 = bounds
        count = int(mask2.sum())
        box_cells = (r1 - r0 + 1) * (c1 - c0 + 1)
        where = (f"{_span('row', r0, r1)}, {_span('column', c0, c1)} "
                 f"({r1 - r0 + 1} x {c1 - c0 + 1})"
                 if mask.ndim == 2 else f"{_span('position', c0, c1)} ({c1 - c0 + 1})")
        summary = f"{where}: {count} pixel{'s' * (count != 1)}"
        if count < box_cells:
            summary += f" of the {box_cells} in the red box (the rest never reach it)"
    return [f"receptive field of output {full}: {summary}",
            f"(from real gradients over {trials} random input{'s' * (trials != 1)})"]


def receptive_field(model_or_layer: Any, input_shape: Sequence[int],
                    index: Sequence[int] | int, path: str | os.PathLike[str] | None = None,
                    *, trials: int = 32, seed: int = 0) -> Any:
    """The receptive field of one output element, drawn on the input grid.

    The field is computed, not assumed: see :func:`receptive_field_mask`. The input panel
    shades every pixel with a nonzero gradient (darker = larger), boxes them in red, and the
    output panel marks the element. ``index`` is spatial (``(i, j)``: sample 0, channel 0),
    ``(channel, i, j)`` or a full output index.
    """
    shape = tuple(input_shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"receptive_field draws 1-d or 2-d inputs: input_shape (N, C, L) or "
                         f"(N, C, H, W), got {shape}")
    w = shape[-1]
    h = shape[-2] if len(shape) == 4 else 1
    out_w = _output_shape(model_or_layer, shape)[-1]
    fig = _new_figure(min(4.5 + 0.45 * (w + out_w), 16), min(3.0 + 0.34 * h, 12))
    ax_in, ax_out = fig.subplots(1, 2, width_ratios=[max(w, 3), max(out_w, 3)])
    lines = _draw_receptive_field(ax_in, ax_out, model_or_layer, shape, index, trials, seed)
    fig.suptitle("\n".join([_describe(model_or_layer), *lines]), fontsize=9.5)
    return _finish(fig, path)


# ------------------------------------------------------------------ sliding window
def _tuple_n(value: Any, n: int) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, tuple | list) else (int(value),) * n


def _window_geometry(layer: Any, x: Tensor) -> dict[str, Any]:
    """Kernel, stride, dilation, padding pairs and kind of a conv or pooling layer."""
    name = type(layer).__name__
    if getattr(layer, "transposed", False):
        raise TypeError(f"sliding_window: {name} is a transposed convolution, whose windows "
                        "scatter rather than gather; use the equivalent direct convolution "
                        "(convkit.explain reports it)")
    if hasattr(layer, "weight") and hasattr(layer, "in_channels"):
        n = len(layer.kernel_size)
        pairs = F.resolve_padding(layer.padding, x, layer.weight, layer.stride, layer.dilation)
        return {"kind": "conv", "n": n, "kernel": tuple(layer.kernel_size),
                "stride": tuple(layer.stride), "dilation": tuple(layer.dilation),
                "pairs": tuple(pairs), "pad_mode": layer.padding_mode, "groups": layer.groups}
    if "MaxPool" in name or "AvgPool" in name:
        if "Adaptive" in name:
            raise TypeError(f"sliding_window: {name} has no fixed window")
        n = int(getattr(layer, "ndim", x.ndim - 2))
        k = _tuple_n(layer.kernel_size, n)
        p = _tuple_n(layer.padding, n)
        return {"kind": "max" if "Max" in name else "avg", "n": n, "kernel": k,
                "stride": _tuple_n(layer.stride, n),
                "dilation": _tuple_n(getattr(layer, "dilation", 1), n),
                "pairs": tuple((v, v) for v in p), "pad_mode": "zeros", "groups": None}
    raise TypeError(f"sliding_window: {name} is not a convolution or pooling layer")


def window_terms(layer: Any, input: Any, position: Sequence[int]) -> dict[str, Any]:
    """Everything :func:`sliding_window` draws, computed by hand from the definition.

    Returns a dict with the full output ``index``, the layer's own ``output`` value (by
    running it), the ``by_hand`` value (the window's products summed, plus bias; or the max
    / mean for pooling), ``channels`` (input channels read), ``taps`` (padded coordinates of
    each kernel tap), ``padded`` (the padded input of the sample, ``(C, *spatial)``), the
    ``kernel`` ``(C_group, *kernel_size)`` for conv, the ``bias``, the ``pairs`` of padding
    the ``terms`` ``(channel, tap, x, w)`` and the ``out_plane`` (the chosen sample and
    channel of the output).
    """
    x = _as_input(input, layer, _spatial_dims(layer))
    geometry = _window_geometry(layer, x)
    n = geometry["n"]
    if n not in (1, 2):
        raise ValueError(f"sliding_window draws 1-d and 2-d layers, got {n} spatial dims")
    with convkit.no_grad():
        y = layer(x)
    out = _numpy(y).astype(np.float64)
    full = _output_index(position, tuple(out.shape))
    sample, o, spatial = full[0], full[1], full[2:]
    pairs = geometry["pairs"]
    if geometry["kind"] == "conv" and geometry["pad_mode"] != "zeros":
        padded_t = F.pad_pairs(x, pairs, geometry["pad_mode"])
        fill = None
    elif geometry["kind"] == "max":
        padded_t = F.pad_pairs(x, pairs, "constant", float("-inf"))
        fill = float("-inf")
    else:
        padded_t = F.pad_pairs(x, pairs, "constant", 0.0)
        fill = 0.0
    padded = _numpy(padded_t)[sample].astype(np.float64)  # (C, *padded spatial)
    kernel, stride, dilation = geometry["kernel"], geometry["stride"], geometry["dilation"]
    taps = [tuple(s * i + d * t for s, i, d, t in zip(stride, spatial, dilation, tap,
                                                      strict=True))
            for tap in np.ndindex(*kernel)]
    inside = [all(0 <= c < size for c, size in zip(tap, padded.shape[1:], strict=True))
              for tap in taps]  # ceil_mode windows may run past the padded input
    terms: list[tuple[int, tuple[int, ...], float, float]] = []
    bias = 0.0
    weight = None
    if geometry["kind"] == "conv":
        c_in, c_out, groups = int(x.shape[1]), int(y.shape[1]), geometry["groups"]
        per_group = c_in // groups
        g = o // (c_out // groups)
        channels = list(range(g * per_group, (g + 1) * per_group))
        weight = _numpy(layer.weight).astype(np.float64)[o]  # (C_in/groups, *kernel)
        if layer.bias is not None:
            bias = float(_numpy(layer.bias)[o])
        for local, c in enumerate(channels):
            for tap_index, (tap, ok) in enumerate(zip(taps, inside, strict=True)):
                if ok:
                    k_index = np.unravel_index(tap_index, kernel)
                    terms.append((c, tap, float(padded[(c, *tap)]),
                                  float(weight[(local, *k_index)])))
        by_hand = float(sum(v * w for _, _, v, w in terms)) + bias
    else:
        channels = [o]
        values = [float(padded[(o, *tap)]) for tap, ok in zip(taps, inside, strict=True) if ok]
        terms = [(o, tap, float(padded[(o, *tap)]), 1.0)
                 for tap, ok in zip(taps, inside, strict=True) if ok]
        if geometry["kind"] == "max":
            by_hand = max(values)
        else:
            by_hand = _avg_by_hand(layer, values, taps, inside, pairs, padded.shape[1:])
    return {"index": full, "output": float(out[full]), "by_hand": by_hand,
            "channels": channels, "taps": taps, "inside": inside, "padded": padded,
            "kernel": weight, "bias": bias, "pairs": pairs, "terms": terms,
            "kind": geometry["kind"], "fill": fill, "input_shape": tuple(x.shape),
            "out_plane": out[full[0], full[1]],
            "output_shape": tuple(out.shape), "geometry": geometry}


def _avg_by_hand(layer: Any, values: list[float], taps: list[tuple[int, ...]],
                 inside: list[bool], pairs: tuple[tuple[int, int], ...],
                 padded_spatial: tuple[int, ...]) -> float:
    """PyTorch's average pool divisor: the window clipped to the padded input (with
    count_include_pad) or to the real input (without); ``divisor_override`` wins."""
    override = getattr(layer, "divisor_override", None)
    if override:
        return sum(values) / override
    if getattr(layer, "count_include_pad", True):
        count = sum(inside)
    else:
        count = sum(1 for tap, ok in zip(taps, inside, strict=True) if ok and all(
            lo <= c < size - hi for c, (lo, hi), size in zip(tap, pairs, padded_spatial,
                                                             strict=True)))
    return sum(values) / count


def _wrap_terms(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken only before a `` + `` (a
    term or product) so that no number is split; continuation lines start with ``+``."""
    pieces = text.split(" + ")
    lines = [pieces[0]]
    for piece in pieces[1:]:
        if len(lines[-1]) + 3 + len(piece) <= width:
            lines[-1] += " + " + piece
        else:
            lines.append("    + " + piece)
    return lines


def _sum_text(info: dict[str, Any]) -> str:
    """The output value written out: every product for small windows, per-channel sums
    for bigger ones."""
    idx = ", ".join(str(i) for i in info["index"])
    kind = info["kind"]
    if kind == "max":
        vals = ", ".join(_short(v) for _, _, v, _ in info["terms"])
        return f"out[{idx}] = max({vals}) = {_short(info['by_hand'])}"
    if kind == "avg":
        vals = " + ".join(_short(v) for _, _, v, _ in info["terms"])
        total = sum(v for _, _, v, _ in info["terms"])
        divisor = round(total / info["by_hand"]) if info["by_hand"] else "n"
        return f"out[{idx}] = ({vals}) / {divisor} = {_short(info['by_hand'])}"
    terms = info["terms"]
    bias = info["bias"]
    bias_text = f" + bias {_short(bias)}" if bias else ""
    if len(terms) <= 12:
        products = " + ".join(f"{_short(v)}\u00b7{_short(w)}" if w >= 0 else
                              f"{_short(v)}\u00b7({_short(w)})" for _, _, v, w in terms)
        return f"out[{idx}] = {products}{bias_text} = {_short(info['by_hand'])}"
    parts = []
    for c in info["channels"]:
        sub = sum(v * w for ch, _, v, w in terms if ch == c)
        count = sum(1 for ch, *_ in terms if ch == c)
        parts.append(f"(in {c}: {count} products = {_short(sub)})")
    shown = " + ".join(parts[:4]) + (" + ..." if len(parts) > 4 else "")
    return f"out[{idx}] = {shown}{bias_text} = {_short(info['by_hand'])}"


def sliding_window(layer: Any, input: Any, position: Sequence[int],
                   path: str | os.PathLike[str] | None = None, *, max_channels: int = 3) -> Any:
    """One position of the sliding window: the input with the window drawn on it, the
    kernel, and the output value, with the sum written out.

    ``layer`` is a ``Conv1d``/``Conv2d`` (any padding, padding_mode, stride, dilation,
    groups) or a ``MaxPool``/``AvgPool`` 1-d/2-d layer; ``input`` is ``(N, C, H, W)`` (or
    ``(C, H, W)``, ``(H, W)``); ``position`` is the output index: ``(i, j)`` (sample 0,
    channel 0), ``(channel, i, j)`` or ``(sample, channel, i, j)``. The input is drawn padded
    (padding hatched, the image inside the black frame); each tap of the window is outlined
    in green (with dilation they are spread out). The value shown is computed both ways, by
    the layer and by hand from the drawn numbers (:func:`window_terms`).
    """
    from matplotlib.patches import Rectangle

    info = window_terms(layer, input, position)
    padded, channels = info["padded"], info["channels"]
    shown_channels = channels[:max_channels]
    pairs = info["pairs"]
    two_d = len(info["index"]) == 4
    rows = len(shown_channels)
    is_conv = info["kind"] == "conv"
    sample_h = padded.shape[1] if two_d else 1
    sample_w = padded.shape[-1]
    out_shape = info["output_shape"]
    out_w = out_shape[-1]
    kw = info["geometry"]["kernel"][-1]
    widths = [max(sample_w, 3), max(kw, 2) if is_conv else 0.001, max(out_w, 3)]
    width = min(3.0 + 0.42 * sum(widths), 18)
    cell = (width - 1.8) / sum(widths)  # inches per array cell, as the widths share it out
    # the sum written out can be longer than the figure is wide: break it between terms
    sum_lines = _wrap_terms(_sum_text(info), int(width * 12))
    fig = _new_figure(width, min(1.6 + 0.2 * len(sum_lines)
                                 + rows * (cell * max(sample_h, 3) + 0.8), 18))
    grid = fig.add_gridspec(rows, 3, width_ratios=widths)
    for r, c in enumerate(shown_channels):
        ax = fig.add_subplot(grid[r, 0])
        plane = _spatial_2d(padded[c])
        finite = np.isfinite(plane)
        lowest = float(plane[finite].min()) if finite.any() else 0.0
        image = _show(ax, np.where(finite, plane, lowest), signed=None, annotate=False)
        if max(plane.shape) <= ANNOTATE_MAX_SIDE + 4:
            for i in range(plane.shape[0]):
                for j in range(plane.shape[1]):
                    v = float(plane[i, j])
                    r_, g_, b_, _ = image.cmap(image.norm(v if finite[i, j] else lowest))
                    dark = 0.299 * r_ + 0.587 * g_ + 0.114 * b_ < 0.5
                    ax.text(j, i, _short(v) if finite[i, j] else "-\u221e", ha="center",
                            va="center", fontsize=7, color="white" if dark else "black")
        lo = [p[0] for p in pairs]
        real_h = plane.shape[0] - (sum(pairs[0]) if two_d else 0)
        real_w = plane.shape[1] - sum(pairs[-1])
        top = lo[0] if two_d else 0
        ax.add_patch(Rectangle((lo[-1] - 0.5, top - 0.5), real_w, real_h, fill=False,
                               edgecolor="black", lw=1.8))
        if any(a or b for a, b in pairs):
            pad_mask = np.ones(plane.shape, bool)
            pad_mask[top:top + real_h, lo[-1]:lo[-1] + real_w] = False
            for i, j in zip(*np.nonzero(pad_mask), strict=True):
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///",
                                       edgecolor="#999999", lw=0))
        for tap, ok in zip(info["taps"], info["inside"], strict=True):
            if ok:
                i, j = (tap if two_d else (0, tap[0]))
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                       edgecolor="#00b050", lw=2.2))
        label = f"input channel {c}" + (" (padded)" if any(a or b for a, b in pairs) else "")
        ax.set_title(label, fontsize=9)
        if is_conv:
            ax_k = fig.add_subplot(grid[r, 1])
            k = _spatial_2d(info["kernel"][channels.index(c)])
            _show(ax_k, k, signed=True, annotate=True)
            ax_k.set_title(f"weight[{info['index'][1]}, {channels.index(c)}]", fontsize=9)
    ax_o = fig.add_subplot(grid[:, 2])
    out_plane = _spatial_2d(info["out_plane"])
    _show(ax_o, out_plane, signed=None, annotate=True)
    oi = info["index"][2:] if two_d else (0, info["index"][2])
    ax_o.add_patch(Rectangle((oi[1] - 0.5, oi[0] - 0.5), 1, 1, fill=False,
                             edgecolor="#00b050", lw=2.5))
    ax_o.set_title(f"output channel {info['index'][1]}\n(sample {info['index'][0]})",
                   fontsize=9)
    more = (f" (first {len(shown_channels)} of {len(channels)} input channels drawn)"
            if len(shown_channels) < len(channels) else "")
    what = ("cross-correlation: the kernel is NOT flipped" if is_conv else
            f"{info['kind']} pooling")
    fig.suptitle("\n".join([f"{_describe(layer)}: {what}{more}", *sum_lines,
                            f"layer output: {_short(info['output'])}"]), fontsize=9.5)
    return _finish(fig, path)


# ------------------------------------------------------------------ contamination
def contamination_map(layer: Any, input_shape: Sequence[int],
                      padding_mode: str | Sequence[str] = "zeros",
                      path: str | os.PathLike[str] | None = None) -> Any:
    """Per output element, the share of its receptive field that lies in the padding.

    Draws what ``convkit.explain.contamination(layer, input_shape, padding_mode)`` computes:
    a heat map from 0 (only real pixels) to 1 (only padding), one column per padding mode
    if several are given. For a single layer the share depends on positions only, so it is
    the same for every mode; what the modes change is what the padded taps read, so a
    second row shows the share of taps that re-read a pixel their own window already reads
    (0 for zeros, high for replicate), when the report has it.
    """
    from convkit.explain import contamination

    modes = [padding_mode] if isinstance(padding_mode, str) else list(padding_mode)
    if not modes:
        raise ValueError("contamination_map: no padding mode given")
    reports = [(mode, contamination(layer, tuple(input_shape), mode)) for mode in modes]
    # (field, what a panel title calls it, colorbar label)
    rows = [("share", "in the padding", "share of the receptive field in the padding")]
    if any(getattr(r, "repeated", None) is not None for _, r in reports) and (
            len(modes) > 1 or modes[0] != "zeros"):
        rows.append(("repeated", "re-read in the window",
                     "share of taps re-reading a pixel of their own window"))
    first = _spatial_2d(np.asarray(reports[0][1].share, dtype=np.float64))
    h, w = first.shape
    fig = _new_figure(min(2.4 + len(modes) * (1.0 + 0.45 * w), 18),
                      min(1.4 + len(rows) * (1.0 + 0.4 * h), 16))
    axes = fig.subplots(len(rows), len(modes), squeeze=False)
    for r, (field_name, short, label) in enumerate(rows):
        image = None
        for c, (mode, report) in enumerate(reports):
            ax = axes[r, c]
            values = getattr(report, field_name, None)
            if values is None:
                ax.set_visible(False)
                continue
            grid = _spatial_2d(np.asarray(values, dtype=np.float64))
            image = _show(ax, grid, signed=False, cmap=HEAT_CMAP, vmax=1.0, annotate=True)
            image.set_clim(0.0, 1.0)
            ax.set_title(f"padding_mode='{mode}'\n{short}" + (
                f": mean {grid.mean():.2f}" if grid.size else ""), fontsize=9)
            ax.set_xlabel("output column", fontsize=8)
            ax.set_ylabel("output row", fontsize=8)
        if image is not None:
            fig.colorbar(image, ax=list(axes[r]), shrink=0.85, label=label)
    name = getattr(reports[0][1], "layer", None) or _describe(layer)
    name = name if "\n" not in name and len(name) <= 90 else _describe(layer)
    children = list(layer.children()) if isinstance(layer, Module) else []
    if name == type(layer).__name__ and children:
        name = ("\n".join(f"then {_describe(m)}" if i else _describe(m)
                           for i, m in enumerate(children))
                if len(children) <= 3 else f"{name} of {len(children)} layers")
    explained = [f"{name}", f"on input {tuple(input_shape)}: how much of each output pixel's "
                 "receptive field", "is padding (0 = only real pixels)"]
    if len(rows) > 1:
        explained[-1] += (": the same for every mode. The modes differ in what the padding "
                          "holds:")
        explained.append("the second row counts taps that re-read a pixel the window "
                         "already reads (copies, not new data)")
    chars = int(fig.get_figwidth() * 12)  # about what a 9.5 pt line holds per inch
    fig.suptitle("\n".join(textwrap.fill(line, chars) for line in explained), fontsize=9.5)
    return _finish(fig, path)


# ------------------------------------------------------------------ explain --png
def explain_figure(layer: Any, input_shape: Sequence[int],
                   path: str | os.PathLike[str] | None = None) -> Any:
    """The picture ``convkit explain --png`` writes: the channel wiring (for convolutions)
    beside the receptive field of the centre output element."""
    shape = tuple(int(s) for s in input_shape)
    has_wiring = hasattr(layer, "in_channels") and hasattr(layer, "out_channels")
    if len(shape) not in (3, 4):
        if has_wiring:
            return wiring_diagram(layer, path, input_shape=shape)
        raise ValueError(f"explain_figure draws 1-d and 2-d inputs, got input shape {shape}")
    out_shape = _output_shape(layer, shape)
    centre = tuple(s // 2 for s in out_shape[2:])
    w, out_w = shape[-1], out_shape[-1]
    h = shape[-2] if len(shape) == 4 else 1
    n = max(getattr(layer, "in_channels", 1), getattr(layer, "out_channels", 1))
    rf_width = min(3.0 + 0.45 * (w + out_w), 12)
    if has_wiring:
        fig = _new_figure(7.5 + rf_width, max(min(3.4 + 0.34 * h, 11), min(3.2 + 0.3 * n, 11)))
        axes = fig.subplots(1, 4, width_ratios=[3.0, 2.0, rf_width * w / (w + out_w),
                                                  rf_width * out_w / (w + out_w)])
        lines = _draw_wiring(axes[0], axes[1], layer, shape)
        lines += _draw_receptive_field(axes[2], axes[3], layer, shape, centre, 32, 0)
    else:
        fig = _new_figure(rf_width + 1.0, min(3.4 + 0.34 * h, 11))
        axes = fig.subplots(1, 2, width_ratios=[max(w, 3), max(out_w, 3)])
        lines = _draw_receptive_field(axes[0], axes[1], layer, shape, centre, 32, 0)
    fig.suptitle("\n".join([f"{_describe(layer)} on input {shape}", *lines]), fontsize=9.5)
    return _finish(fig, path)
