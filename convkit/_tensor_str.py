"""Text rendering of tensors, reproducing PyTorch's ``repr(tensor)`` exactly.

This module mirrors the behaviour of ``torch/_tensor_str.py`` for dense CPU
tensors using only NumPy: element formatting (integer-valued floats as ``4.``,
fixed or scientific notation, common column width), line wrapping, the
``...`` summary of large tensors and the placement of trailing suffixes such as
``dtype=...`` or ``requires_grad=True``.

Every float is formatted through a Python ``float`` (an exact float64 copy of
the stored value), because that is what PyTorch formats after ``.item()`` /
``.tolist()``; float16 and float32 values therefore print exactly as in
PyTorch, rounding included.
"""

import math

import numpy as np


class _PrintOptions:
    """The subset of ``torch.set_printoptions`` state that affects the text."""

    __slots__ = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")

    def __init__(self, precision: int, threshold: "int | float", edgeitems: int,
                 linewidth: int, sci_mode: "bool | None") -> None:
        self.precision = precision
        self.threshold = threshold
        self.edgeitems = edgeitems
        self.linewidth = linewidth
        self.sci_mode = sci_mode


class _Formatter:
    """Chooses one notation and one column width for a whole set of values.

    Like PyTorch, the decision is made once per tensor (or once per real and
    imaginary part of a complex tensor) so that all elements line up.
    """

    def __init__(self, values: np.ndarray, opts: _PrintOptions) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        self.precision = opts.precision

        flat = values.reshape(-1)
        if not self.floating:
            # Integers and bools print via str(): 7, -3, True, False.
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(str(value)))
            return

        # Only nonzero finite values take part in choosing the notation and the
        # width; zeros, nan and inf are simply padded (or overflow) later.
        nonzero_finite = flat[np.isfinite(flat) & (flat != 0)]
        if nonzero_finite.size == 0:
            return

        # The range test is done in float64, as PyTorch does, so that float16
        # magnitudes such as 1e8 do not overflow.
        magnitudes = np.abs(nonzero_finite).astype(np.float64)
        smallest = float(magnitudes.min())
        largest = float(magnitudes.max())

        # The ceil test runs in the source dtype, matching torch.ceil(value).
        self.int_mode = bool(np.all(nonzero_finite == np.ceil(nonzero_finite)))

        if opts.sci_mode is None:
            self.sci_mode = (largest / smallest > 1000.0 or largest > 1.0e8
                             or smallest < 1.0e-4)
        else:
            self.sci_mode = opts.sci_mode

        precision = self.precision
        for value in nonzero_finite.tolist():
            if self.sci_mode:
                width = len(f"{value:.{precision}e}")
            elif self.int_mode:
                # One extra column for the trailing "." that marks a float.
                width = len(f"{value:.0f}") + 1
            else:
                width = len(f"{value:.{precision}f}")
            self.max_width = max(self.max_width, width)

    def width(self) -> int:
        """Width of the widest formatted nonzero finite value (at least 1)."""
        return self.max_width

    def format(self, value: "int | float | bool") -> str:
        """Format one Python scalar, right-aligned to the common width."""
        if self.floating:
            precision = self.precision
            if self.sci_mode:
                text = f"{value:{self.max_width}.{precision}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = f"{value:.{precision}f}"
        else:
            text = str(value)
        # Values wider than max_width (zeros, nan, inf) are not truncated.
        return (self.max_width - len(text)) * " " + text


def _complex_str(value: complex, real_fmt: _Formatter, imag_fmt: _Formatter) -> str:
    """Join independently formatted real and imaginary parts, e.g. ``1.-0.j``."""
    real_text = real_fmt.format(value.real)
    imag_text = (imag_fmt.format(value.imag) + "j").lstrip()
    # A formatted negative (including -0.) already carries its sign.
    if imag_text[0] in "+-":
        return real_text + imag_text
    return real_text + "+" + imag_text


def _element_str(value: "int | float | bool | complex", formatter1: _Formatter,
                 formatter2: "_Formatter | None") -> str:
    """Format one element; ``formatter2`` is given only for complex tensors."""
    if formatter2 is not None:
        return _complex_str(value, formatter1, formatter2)
    return formatter1.format(value)


def _vector_str(array: np.ndarray, indent: int, summarize: bool, opts: _PrintOptions,
                formatter1: _Formatter, formatter2: "_Formatter | None") -> str:
    """Render a 1-d array, wrapping so that each line fits in the linewidth."""
    # Each element is followed by ", " (the last one by "," or "]").
    element_length = formatter1.width() + 2
    if formatter2 is not None:
        # The imaginary part plus its "j".
        element_length += formatter2.width() + 1
    elements_per_line = max(1, math.floor((opts.linewidth - indent) / element_length))

    edge = opts.edgeitems
    if summarize and not edge:
        data = ["..."]
    elif summarize and array.shape[0] > 2 * edge:
        # " ..." counts as an element when splitting into lines, as in PyTorch.
        data = ([_element_str(v, formatter1, formatter2) for v in array[:edge].tolist()]
                + [" ..."]
                + [_element_str(v, formatter1, formatter2) for v in array[-edge:].tolist()])
    else:
        data = [_element_str(v, formatter1, formatter2) for v in array.tolist()]

    lines = [", ".join(data[i:i + elements_per_line])
             for i in range(0, len(data), elements_per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(array: np.ndarray, indent: int, summarize: bool,
                               opts: _PrintOptions, formatter1: _Formatter,
                               formatter2: "_Formatter | None") -> str:
    """Render a non-empty array recursively, one nesting level per dimension."""
    if array.ndim == 0:
        return _element_str(array.item(), formatter1, formatter2)
    if array.ndim == 1:
        return _vector_str(array, indent, summarize, opts, formatter1, formatter2)

    edge = opts.edgeitems
    length = array.shape[0]
    if summarize and length > 2 * edge:
        rows = ([_tensor_str_with_formatter(array[i], indent + 1, summarize, opts,
                                            formatter1, formatter2)
                 for i in range(edge)]
                + ["..."]
                + [_tensor_str_with_formatter(array[i], indent + 1, summarize, opts,
                                              formatter1, formatter2)
                   for i in range(length - edge, length)])
    else:
        rows = [_tensor_str_with_formatter(array[i], indent + 1, summarize, opts,
                                           formatter1, formatter2)
                for i in range(length)]

    # Slices of a k-d tensor are separated by k-2 blank lines.
    separator = "," + "\n" * (array.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(rows) + "]"


def _summarized_data(array: np.ndarray, edgeitems: int) -> np.ndarray:
    """Keep only the elements that a summarised print shows.

    The formatter of a summarised tensor is computed from these elements alone,
    so hidden values never influence the notation or width.
    """
    if array.ndim == 0:
        return array
    if array.ndim == 1:
        if array.shape[0] > 2 * edgeitems:
            # With edgeitems == 0, array[-0:] is the whole array, exactly as
            # self[-0:] is in PyTorch, so the formatter then sees every value.
            return np.concatenate((array[:edgeitems], array[-edgeitems:]))
        return array
    if not edgeitems:
        return np.empty((0,) * array.ndim, dtype=array.dtype)
    if array.shape[0] > 2 * edgeitems:
        kept = list(range(edgeitems)) + list(
            range(array.shape[0] - edgeitems, array.shape[0]))
    else:
        kept = list(range(array.shape[0]))
    return np.stack([_summarized_data(array[i], edgeitems) for i in kept])


def _tensor_str(array: np.ndarray, indent: int, opts: _PrintOptions) -> str:
    """Render the bracketed body of a non-empty tensor."""
    summarize = array.size > opts.threshold

    if array.dtype.kind == "c":
        # Real and imaginary parts get independent notations and widths.
        real, imag = array.real, array.imag
        if summarize:
            real = _summarized_data(real, opts.edgeitems)
            imag = _summarized_data(imag, opts.edgeitems)
        return _tensor_str_with_formatter(array, indent, summarize, opts,
                                          _Formatter(real, opts), _Formatter(imag, opts))

    shown = _summarized_data(array, opts.edgeitems) if summarize else array
    return _tensor_str_with_formatter(array, indent, summarize, opts,
                                      _Formatter(shown, opts), None)


def _add_suffixes(tensor_str: str, suffixes: "list[str]", indent: int,
                  linewidth: int) -> str:
    """Append ``, suffix`` items and the closing parenthesis.

    A suffix moves to its own line when it would push the current line past
    the linewidth.  The line-length estimate deliberately reproduces
    PyTorch's arithmetic (it over-counts by two on the last line).
    """
    parts = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}
_options: dict = {**_PROFILES["default"], "sci_mode": None}


def set_printoptions(precision: "int | None" = None, threshold: "float | None" = None,
                     edgeitems: "int | None" = None, linewidth: "int | None" = None,
                     profile: "str | None" = None, sci_mode: "bool | None" = None) -> None:
    """Set how tensors print, as ``torch.set_printoptions`` does.

    ``profile`` ("default", "short" or "full") resets the others first; ``sci_mode=None``
    lets each tensor choose scientific notation by its value range.
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, "
                             f"got {profile!r}")
        _options.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            _options[name] = value
    _options["sci_mode"] = sci_mode


def get_printoptions() -> dict:
    """The current print options (a copy)."""
    return dict(_options)


def format_tensor(array: "np.ndarray", *, dtype_name: str, show_dtype: bool,
                  suffixes: "list[str]" = (), prefix: str = "tensor(",
                  linewidth: "int | None" = None, precision: "int | None" = None,
                  threshold: "float | None" = None, edgeitems: "int | None" = None,
                  sci_mode: "bool | None" = None) -> str:
    """Return the text PyTorch's ``repr`` would give for a tensor with these values.

    Args:
        array: The tensor's values (bool, signed/unsigned integer, float16/32/64
            or complex64/128), of any shape including 0-d and empty.
        dtype_name: Printed as ``dtype=<dtype_name>``, e.g. ``"convkit.float64"``.
        show_dtype: Whether to add the dtype suffix.  PyTorch's rule, which the
            caller applies, is: for a non-empty tensor show it unless the dtype
            is the default float dtype, its complex counterpart, int64 or bool;
            for an empty tensor show it unless it is the default float dtype.
        suffixes: Already formatted suffixes placed after the dtype, e.g.
            ``["requires_grad=True"]`` or ``["grad_fn=<AddBackward0>"]``.
        prefix: Text before the values; continuation lines are indented by its
            length.
        linewidth, precision, threshold, edgeitems, sci_mode: The equivalents
            of ``torch.set_printoptions`` settings; None takes the value set by
            :func:`set_printoptions`.

    Returns:
        The complete text, e.g. ``tensor([[4., 4., 1.]], dtype=convkit.float64)``.
    """
    pick = {**_options, **{k: v for k, v in (
        ("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
        ("linewidth", linewidth), ("sci_mode", sci_mode)) if v is not None}}
    precision, threshold, edgeitems, linewidth = (pick["precision"], pick["threshold"],
                                                  pick["edgeitems"], pick["linewidth"])
    opts = _PrintOptions(precision, threshold, edgeitems, linewidth, pick["sci_mode"])
    array = np.asarray(array)
    indent = len(prefix)
    all_suffixes: list[str] = []

    if array.size == 0:
        # "[]" alone cannot tell (0,) from (2, 0), so other shapes are spelled out.
        if array.ndim != 1:
            all_suffixes.append("size=" + str(tuple(array.shape)))
        body = "[]"
    else:
        # With no edge items a summary shows only "...", so PyTorch always
        # adds the shape in that configuration.
        if not edgeitems:
            all_suffixes.append("size=" + str(tuple(array.shape)))
        body = _tensor_str(array, indent, opts)

    if show_dtype:
        all_suffixes.append("dtype=" + dtype_name)
    all_suffixes.extend(suffixes)
    return _add_suffixes(prefix + body, all_suffixes, indent, linewidth)
