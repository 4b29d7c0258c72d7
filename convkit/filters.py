"""Named kernels and image filtering by true convolution (``convkit filter``).

The kernels are the classic image-processing ones, written for *true* convolution
(``convkit.signal.convolve2d`` flips the kernel, as ``scipy.signal.convolve2d`` does), so their
signs mean what their names say:

=================  ==============================================  =========================
name               kernel                                          response
=================  ==============================================  =========================
``sobel_x``        ``[[1, 0, -1], [2, 0, -2], [1, 0, -1]]``        > 0 where the image gets
                                                                   brighter to the right
``sobel_y``        ``[[1, 2, 1], [0, 0, 0], [-1, -2, -1]]``        > 0 where it gets brighter
                                                                   downwards
``laplace``        ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``          the discrete Laplacian
``gaussian:SIGMA`` ``exp(-(y**2 + x**2) / (2 SIGMA**2))``, radius  a blur; sums to 1
                   ``ceil(3 SIGMA)``
``box:K``          ``K x K`` of ``1 / K**2``                       the local mean
``file.npy``       any 2-d real array saved with ``numpy.save``
=================  ==============================================  =========================

(PyTorch's ``conv2d`` would need these kernels flipped to give the same signs: it is a
cross-correlation. For the symmetric ones, laplace, gaussian and box, the flip changes nothing.)

Images are read with Pillow (the ``viz`` extra). Each colour channel is filtered on its own;
an alpha channel is copied unchanged (filtering it would blur the transparency mask, which no
one asks for). Results are floats; written to ``.npy`` they are kept as they are, written to
PNG or JPEG they are mapped to 0-255 by a rule that :attr:`FilterReport.rule` states and the CLI
prints:

* a kernel with no negative entries (blur, mean): the values are already on the image's scale,
  so they are rounded and clipped to 0-255;
* a kernel with negative entries (sobel, laplace) gives signed results: ``signed='abs'``
  (default) writes ``|value|`` clipped to 0-255, the edge strength whatever its direction;
  ``signed='offset'`` writes ``value + 128`` clipped, so mid-grey is 0, brighter is positive
  and darker negative.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["KERNEL_NAMES", "FilterReport", "box", "filter_array", "filter_image", "gaussian",
           "kernel_from_spec", "laplace", "read_image", "sobel_x", "sobel_y"]

KERNEL_NAMES = ("sobel_x", "sobel_y", "laplace", "gaussian:SIGMA", "box:K", "FILE.npy")
MODES = ("full", "same", "valid")
BOUNDARIES = ("fill", "wrap", "symm")
SIGNED_RULES = ("abs", "offset")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
OUTPUT_SUFFIXES = (*IMAGE_SUFFIXES, ".npy")
# A kernel side beyond this is a typo (gaussian:1e6), not a filter: refuse it before
# allocating gigabytes.
MAX_KERNEL_SIDE = 4097


def sobel_x() -> np.ndarray:
    """Horizontal derivative (true convolution): positive where brightness grows rightwards.

    Shape: ``(3, 3)``.
    """
    return np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


def sobel_y() -> np.ndarray:
    """Vertical derivative (true convolution): positive where brightness grows downwards.

    Shape: ``(3, 3)``.
    """
    return sobel_x().T.copy()


def laplace() -> np.ndarray:
    """The 4-neighbour discrete Laplacian. Shape: ``(3, 3)``."""
    return np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def gaussian(sigma: float) -> np.ndarray:
    """A normalised 2-d Gaussian of standard deviation ``sigma`` (pixels).

    Shape: ``(2r + 1, 2r + 1)`` with radius ``r = ceil(3 * sigma)``, which keeps all but
    about 0.3 % of the mass per axis; the kept samples are rescaled to sum to exactly 1, so
    the blur preserves the mean brightness.
    """
    if not (isinstance(sigma, int | float) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"gaussian: sigma must be a positive finite number, got {sigma!r}")
    radius = math.ceil(3 * sigma)
    if 2 * radius + 1 > MAX_KERNEL_SIDE:
        raise ValueError(f"gaussian: sigma={sigma:g} needs a {2 * radius + 1} x "
                         f"{2 * radius + 1} kernel; the largest allowed side is "
                         f"{MAX_KERNEL_SIDE}")
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    profile = np.exp(-offsets**2 / (2.0 * sigma**2))  # (2r+1,): separable 1-d factor
    kernel = np.outer(profile, profile)  # (2r+1, 2r+1)
    return kernel / kernel.sum()


def box(size: int) -> np.ndarray:
    """The ``size x size`` mean filter (every entry ``1 / size**2``)."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"box: size must be a positive integer, got {size!r}")
    if size > MAX_KERNEL_SIDE:
        raise ValueError(f"box: size {size} is larger than the largest allowed side "
                         f"{MAX_KERNEL_SIDE}")
    return np.full((int(size), int(size)), 1.0 / (int(size) * int(size)))


def kernel_from_spec(spec: str) -> tuple[str, np.ndarray]:
    """``(display name, kernel)`` for ``spec``: a name of :data:`KERNEL_NAMES` or a ``.npy`` path.

    Raises ValueError (unknown name, bad sigma/size, a ``.npy`` that is not a finite 2-d real
    array) or FileNotFoundError (a missing ``.npy``).
    """
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"kernel: expected one of {', '.join(KERNEL_NAMES)}, got {spec!r}")
    simple = {"sobel_x": sobel_x, "sobel_y": sobel_y, "laplace": laplace}
    if spec in simple:
        return spec, simple[spec]()
    name, sep, arg = spec.partition(":")
    if sep and name == "gaussian":
        try:
            sigma = float(arg)
        except ValueError:
            raise ValueError(f"kernel: gaussian needs a number as SIGMA (gaussian:1.5), "
                             f"got {arg!r}") from None
        return f"gaussian (sigma={sigma:g})", gaussian(sigma)
    if sep and name == "box":
        try:
            size = int(arg)
        except ValueError:
            raise ValueError(f"kernel: box needs an integer size K (box:3), got {arg!r}"
                             ) from None
        return f"box {size}x{size}", box(size)
    if spec.lower().endswith(".npy"):
        return os.path.basename(spec), _load_npy_kernel(spec)
    hint = " (gaussian and box need a parameter: gaussian:1.5, box:3)" if name in (
        "gaussian", "box") else ""
    raise ValueError(f"kernel: unknown kernel {spec!r}; expected one of "
                     f"{', '.join(KERNEL_NAMES)}{hint}")


def _load_npy_kernel(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"kernel: no such file: '{path}'")
    try:
        kernel = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise ValueError(f"kernel: '{path}' is not a NumPy .npy array file ({e})") from None
    if not isinstance(kernel, np.ndarray) or kernel.ndim != 2 or kernel.size == 0:
        shape = getattr(kernel, "shape", None)
        raise ValueError(f"kernel: '{path}' must hold a non-empty 2-d array, got shape {shape}")
    if not (np.issubdtype(kernel.dtype, np.integer) or np.issubdtype(kernel.dtype, np.floating)
            or kernel.dtype == np.bool_):
        raise ValueError(f"kernel: '{path}' must hold real numbers, got dtype {kernel.dtype}")
    kernel = kernel.astype(np.float64)
    if not np.isfinite(kernel).all():
        raise ValueError(f"kernel: '{path}' contains NaN or infinity")
    if max(kernel.shape) > MAX_KERNEL_SIDE:
        raise ValueError(f"kernel: '{path}' is {kernel.shape[0]} x {kernel.shape[1]}; the "
                         f"largest allowed side is {MAX_KERNEL_SIDE}")
    return kernel


# ------------------------------------------------------------------ images in and out
def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading and writing images needs Pillow: "
                          "pip install 'convkit[viz]'") from None
    return Image


@dataclass
class _Image:
    """Colour planes as float64 ``(H, W, C)`` plus an untouched alpha plane ``(H, W)``."""

    colour: np.ndarray
    alpha: np.ndarray | None
    mode: str  # the Pillow mode the planes are in: 'L' or 'RGB'
    source_mode: str  # the file's own Pillow mode


def read_image(path: str | os.PathLike[str]) -> _Image:
    """Read ``path`` with Pillow into float planes on the 0-255 scale.

    Grayscale stays one plane, colour becomes R, G, B; palette, CMYK and other colour modes
    are converted to RGB, 1-bit to grayscale, 16-bit grayscale is divided by 257 (65535 ->
    255) so that every image is on the same 0-255 scale. Alpha (RGBA, LA, or a palette's
    transparency) is kept apart, unfiltered.
    """
    image_mod = _pillow()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: '{path}'")
    if os.path.isdir(path):
        raise IsADirectoryError(f"'{path}' is a directory, not an image file")
    try:
        with image_mod.open(path) as img:
            img.load()
            return _planes(img)
    except image_mod.UnidentifiedImageError:
        raise ValueError(f"cannot read '{path}' as an image (Pillow does not recognise its "
                         "contents)") from None
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt files
        raise ValueError(f"cannot read '{path}' as an image: {e}") from None


def _planes(img: Any) -> _Image:
    source = img.mode
    if source == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif source == "PA":
        img = img.convert("RGBA")
    elif source == "1":
        img = img.convert("L")
    elif source in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        scale = 257.0 if source.startswith("I;16") else 1.0
        return _Image(values[:, :, None] / scale, None, "L", source)
    elif source not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGB")
    data = np.asarray(img, dtype=np.float64)
    if data.ndim == 2:  # (H, W) grayscale
        return _Image(data[:, :, None], None, "L", source)
    if img.mode == "LA":
        return _Image(data[:, :, :1], data[:, :, 1], "L", source)
    if img.mode == "RGBA":
        return _Image(data[:, :, :3], data[:, :, 3], "RGB", source)
    return _Image(data, None, img.mode, source)


def filter_array(image: np.ndarray, kernel: np.ndarray, mode: str = "same",
                 boundary: str = "fill") -> np.ndarray:
    """True convolution of each channel of ``image`` with ``kernel``.

    Shape: ``image`` ``(H, W)`` or ``(H, W, C)``; ``kernel`` ``(M, N)`` with ``M <= H`` and
    ``N <= W``; result ``(H', W')`` or ``(H', W', C)`` with ``(H', W')`` as
    ``scipy.signal.convolve2d`` gives for ``mode`` ('same': ``(H, W)``, 'valid':
    ``(H - M + 1, W - N + 1)``, 'full': ``(H + M - 1, W + N - 1)``).
    """
    from convkit import signal

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {', '.join(BOUNDARIES)}, got {boundary!r}")
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {image.shape}")
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-d (M, N), got shape {kernel.shape}")
    (h, w), (m, n) = image.shape[:2], kernel.shape
    if m > h or n > w:
        # SciPy would swap the arguments in 'valid' mode and, elsewhere, invent most of every
        # output pixel from the boundary rule: neither is filtering the image.
        raise ValueError(f"the kernel ({m} x {n}) is larger than the image ({h} x {w}); "
                         "use a smaller kernel (or sigma) or a larger image")
    planes = image[:, :, None] if image.ndim == 2 else image  # (H, W, C)
    out = np.stack([signal.convolve2d(planes[:, :, c], kernel, mode=mode, boundary=boundary)
                    for c in range(planes.shape[2])], axis=2)  # (H', W', C)
    return out[:, :, 0] if image.ndim == 2 else out


def _to_uint8(values: np.ndarray, signed: bool, rule: str) -> np.ndarray:
    if signed and rule == "abs":
        values = np.abs(values)
    elif signed:
        values = values + 128.0
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _describe_rule(signed: bool, rule: str) -> str:
    if not signed:
        return "kernel has no negative entries: values rounded and clipped to 0-255"
    if rule == "abs":
        return ("kernel has negative entries, results are signed: wrote |value| clipped to "
                "0-255 (edge strength; save as .npy to keep the signs)")
    return ("kernel has negative entries, results are signed: wrote value + 128 clipped to "
            "0-255 (mid-grey = 0; save as .npy to keep the exact values)")


@dataclass
class FilterReport:
    """What :func:`filter_image` did; ``str()`` gives the lines the CLI prints."""

    in_path: str
    out_path: str
    kernel_name: str
    kernel: np.ndarray
    mode: str
    boundary: str
    image_shape: tuple[int, ...]  # (H, W, C) of the colour planes read
    source_mode: str
    output_shape: tuple[int, ...]
    value_range: tuple[float, float]  # of the filtered floats, before any 0-255 mapping
    rule: str
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        h, w, c = self.image_shape
        kh, kw = self.kernel.shape
        low, high = self.value_range
        # FFT round-off leaves values like -3e-14 where the exact answer is 0
        tiny = 1e-9 * max(abs(low), abs(high), 1.0)
        low, high = (0.0 if abs(v) < tiny else v for v in (low, high))
        lines = [f"read {self.in_path}: {h} x {w}, {c} colour channel{'s' * (c > 1)} "
                 f"(Pillow mode {self.source_mode})",
                 f"kernel {self.kernel_name}: {kh} x {kw}, true convolution (flipped), "
                 f"mode='{self.mode}', boundary='{self.boundary}', each channel on its own",
                 f"result {self.output_shape[0]} x {self.output_shape[1]}, values "
                 f"{low:.4g} to {high:.4g}",
                 *self.notes,
                 f"{self.rule}",
                 f"wrote {self.out_path}"]
        return "\n".join(lines)


def filter_image(in_path: str | os.PathLike[str], kernel: str | np.ndarray,
                 mode: str = "same", boundary: str = "fill",
                 out_path: str | os.PathLike[str] | None = None,
                 signed: str = "abs") -> FilterReport:
    """Convolve an image file with a kernel, channel by channel, and write the result.

    Parameters
    ----------
    in_path : path of an image Pillow reads (PNG, JPEG, ...).
    kernel : a spec for :func:`kernel_from_spec` (``'sobel_x'``, ``'gaussian:1.5'``,
        ``'box:3'``, ``'k.npy'``) or a 2-d array.
    mode : 'same' (default, the image's size), 'valid' or 'full', as in
        ``scipy.signal.convolve2d``.
    boundary : 'fill' (zeros outside), 'wrap' (periodic) or 'symm' (mirrored).
    out_path : ``.png``, ``.jpg``/``.jpeg`` (mapped to 0-255, see the module docstring) or
        ``.npy`` (the float result, ``(H', W')`` or ``(H', W', C)``). Default: ``in_path``
        with ``-filtered.png`` in place of its suffix.
    signed : 'abs' or 'offset': how signed results are mapped for PNG/JPEG.
    """
    if signed not in SIGNED_RULES:
        raise ValueError(f"signed must be one of {', '.join(SIGNED_RULES)}, got {signed!r}")
    in_path = os.fspath(in_path)
    out_path = (os.fspath(out_path) if out_path is not None else
                str(Path(in_path).with_suffix("")) + "-filtered.png")
    suffix = Path(out_path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"output '{out_path}': unsupported extension {suffix or '(none)'!r}; "
                         f"use one of {', '.join(OUTPUT_SUFFIXES)}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {', '.join(BOUNDARIES)}, got {boundary!r}")
    if isinstance(kernel, str):
        kernel_name, kernel_array = kernel_from_spec(kernel)
    else:
        kernel_name, kernel_array = "custom", np.asarray(kernel, dtype=np.float64)
    image = read_image(in_path)
    h, w = image.colour.shape[:2]
    kh, kw = kernel_array.shape if kernel_array.ndim == 2 else (0, 0)
    if kh > h or kw > w:
        raise ValueError(f"the kernel {kernel_name} ({kh} x {kw}) is larger than the image "
                         f"'{in_path}' ({h} x {w}); use a smaller kernel or a larger image")
    result = filter_array(image.colour, kernel_array, mode, boundary)  # (H', W', C)
    notes: list[str] = []
    signed_kernel = bool((kernel_array < 0).any())
    if suffix == ".npy":
        stored = result[:, :, 0] if image.mode == "L" else result
        np.save(out_path, stored)
        rule = "wrote the float64 values unchanged (.npy)"
        if image.alpha is not None:
            notes.append("alpha channel not saved in .npy (only the filtered colour planes)")
    else:
        planes = _to_uint8(result, signed_kernel, signed)  # (H', W', C) uint8
        rule = _describe_rule(signed_kernel, signed)
        alpha = image.alpha
        if alpha is not None and suffix != ".png":
            notes.append("alpha channel dropped: JPEG has no transparency")
            alpha = None
        if alpha is not None and alpha.shape != planes.shape[:2]:
            notes.append(f"alpha channel dropped: mode '{mode}' changes the size from "
                         f"{h} x {w} to {planes.shape[0]} x {planes.shape[1]}")
            alpha = None
        if alpha is not None:
            planes = np.concatenate([planes, alpha.astype(np.uint8)[:, :, None]], axis=2)
        elif image.alpha is None and image.source_mode not in ("L", "LA", "RGB", "RGBA"):
            notes.append(f"converted from Pillow mode {image.source_mode} to {image.mode}")
        _save_image(planes, out_path)
    return FilterReport(in_path, out_path, kernel_name, kernel_array, mode, boundary,
                        tuple(image.colour.shape), image.source_mode, tuple(result.shape[:2]),
                        (float(result.min()), float(result.max())), rule, notes)


def _save_image(planes: np.ndarray, out_path: str) -> None:
    image_mod = _pillow()
    # (H, W) uint8 -> 'L', (H, W, 2|3|4) -> 'LA' | 'RGB' | 'RGBA'
    data = planes[:, :, 0] if planes.shape[2] == 1 else planes
    try:
        image_mod.fromarray(np.ascontiguousarray(data)).save(out_path)
    except (OSError, ValueError) as e:
        raise OSError(f"cannot write '{out_path}': {e}") from None
