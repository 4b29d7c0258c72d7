"""convkit.filters: named kernels and image filtering, against scipy.signal and PyTorch.

The oracle for every filtered value is ``scipy.signal.convolve2d`` on the same pixels; the
kernels' definitions are checked against independent constructions (SciPy's Gaussian
window, PyTorch's cross-correlation with the kernel flipped).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from convkit import filters

PIL = pytest.importorskip("PIL.Image", reason="Pillow (the viz extra) is missing")

NAMED = ["sobel_x", "sobel_y", "laplace", "gaussian:1.0", "gaussian:0.6", "box:3", "box:4"]


def image_pixels(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def write_image(path, pixels: np.ndarray) -> None:
    PIL.fromarray(pixels).save(path)


def scipy_filter(pixels: np.ndarray, kernel: np.ndarray, mode: str, boundary: str) -> np.ndarray:
    """Each channel of ``(H, W)`` or ``(H, W, C)`` through scipy.signal.convolve2d."""
    planes = pixels[:, :, None] if pixels.ndim == 2 else pixels
    out = np.stack([scipy.signal.convolve2d(planes[:, :, c].astype(np.float64), kernel,
                                            mode=mode, boundary=boundary)
                    for c in range(planes.shape[2])], axis=2)
    return out[:, :, 0] if pixels.ndim == 2 else out


# ------------------------------------------------------------------ kernels
@pytest.mark.parametrize("sigma", [0.3, 0.5, 1.0, 1.7, 2.5])
def test_gaussian_is_scipys_window_normalised(sigma: float) -> None:
    kernel = filters.gaussian(sigma)
    radius = math.ceil(3 * sigma)
    assert kernel.shape == (2 * radius + 1, 2 * radius + 1)
    window = scipy.signal.windows.gaussian(2 * radius + 1, std=sigma)  # (2r+1,)
    expected = np.outer(window, window)
    np.testing.assert_allclose(kernel, expected / expected.sum(), rtol=1e-12)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(kernel, kernel.T)
    assert kernel.argmax() == kernel.size // 2  # the peak is the centre


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_box_is_the_mean(size: int) -> None:
    kernel = filters.box(size)
    assert kernel.shape == (size, size)
    assert np.all(kernel == 1.0 / size**2)
    patch = image_pixels((size, size)).astype(np.float64)
    assert scipy.signal.convolve2d(patch, kernel, mode="valid")[0, 0] == pytest.approx(
        patch.mean())


def test_sobel_and_laplace_values() -> None:
    np.testing.assert_array_equal(filters.sobel_x(), [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(filters.sobel_y(), [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    np.testing.assert_array_equal(filters.laplace(), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])


def test_sobel_signs_mean_brighter_to_the_right_and_downwards() -> None:
    ramp = np.tile(np.arange(8.0), (8, 1))  # brightness grows to the right
    assert (filters.filter_array(ramp, filters.sobel_x(), "valid") > 0).all()
    assert np.all(filters.filter_array(ramp, filters.sobel_y(), "valid") == 0)
    assert (filters.filter_array(ramp.T, filters.sobel_y(), "valid") > 0).all()


@pytest.mark.parametrize("spec", NAMED)
def test_filtering_is_true_convolution_not_correlation(spec: str) -> None:
    """PyTorch's conv2d (a cross-correlation) equals the filter only with the kernel
    flipped: the filter flips, as scipy.signal.convolve2d does."""
    _, kernel = filters.kernel_from_spec(spec)
    image = image_pixels((12, 10)).astype(np.float64)
    ours = filters.filter_array(image, kernel, "valid")
    flipped = torch.from_numpy(np.flip(kernel).copy())[None, None]
    theirs = torch.nn.functional.conv2d(torch.from_numpy(image)[None, None], flipped)[0, 0]
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-9)


def test_kernel_spec_names() -> None:
    assert filters.kernel_from_spec("gaussian:1.5")[0] == "gaussian (sigma=1.5)"
    assert filters.kernel_from_spec("box:3")[0] == "box 3x3"
    assert filters.kernel_from_spec("sobel_x")[0] == "sobel_x"


@pytest.mark.parametrize("spec,words", [
    ("sobelx", "unknown kernel 'sobelx'"), ("gaussian", "need a parameter"),
    ("gaussian:abc", "needs a number"), ("gaussian:0", "positive finite"),
    ("gaussian:-1", "positive finite"), ("gaussian:nan", "positive finite"),
    ("gaussian:1e9", "largest allowed side"), ("box:0", "positive integer"),
    ("box:2.5", "integer size"), ("box:", "integer size"), ("", "expected one of"),
])
def test_bad_kernel_specs(spec: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        filters.kernel_from_spec(spec)


def test_npy_kernels(tmp_path) -> None:
    good = np.arange(6.0).reshape(2, 3)
    np.save(tmp_path / "k.npy", good)
    name, kernel = filters.kernel_from_spec(str(tmp_path / "k.npy"))
    assert name == "k.npy"
    np.testing.assert_array_equal(kernel, good)
    np.save(tmp_path / "k3.npy", np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="2-d array"):
        filters.kernel_from_spec(str(tmp_path / "k3.npy"))
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="NaN"):
        filters.kernel_from_spec(str(tmp_path / "nan.npy"))
    (tmp_path / "text.npy").write_text("not an array")
    with pytest.raises(ValueError, match="not a NumPy"):
        filters.kernel_from_spec(str(tmp_path / "text.npy"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        filters.kernel_from_spec(str(tmp_path / "missing.npy"))


# ------------------------------------------------------------------ images
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("spec", NAMED)
def test_rgb_filter_equals_scipy_per_channel(tmp_path, spec: str, boundary: str) -> None:
    pixels = image_pixels((13, 17, 3))
    write_image(tmp_path / "in.png", pixels)
    report = filters.filter_image(tmp_path / "in.png", spec, mode="same", boundary=boundary,
                                  out_path=tmp_path / "out.npy")
    got = np.load(tmp_path / "out.npy")
    _, kernel = filters.kernel_from_spec(spec)
    expected = scipy_filter(pixels, kernel, "same", boundary)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-8)
    assert report.output_shape == (13, 17) and report.image_shape == (13, 17, 3)
    assert report.value_range == pytest.approx((expected.min(), expected.max()))


@pytest.mark.parametrize("mode", ["valid", "full", "same"])
def test_grayscale_modes_equal_scipy(tmp_path, mode: str) -> None:
    pixels = image_pixels((9, 11), seed=3)
    write_image(tmp_path / "gray.png", pixels)
    filters.filter_image(tmp_path / "gray.png", "laplace", mode=mode, boundary="symm",
                         out_path=tmp_path / "out.npy")
    got = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(got, scipy_filter(pixels, filters.laplace(), mode, "symm"),
                               atol=1e-9)


@pytest.mark.parametrize("signed,rule", [("abs", np.abs), ("offset", lambda v: v + 128)])
def test_png_output_maps_signed_results_by_the_stated_rule(tmp_path, signed, rule) -> None:
    pixels = image_pixels((10, 12))
    write_image(tmp_path / "in.png", pixels)
    report = filters.filter_image(tmp_path / "in.png", "sobel_x", boundary="symm",
                                  out_path=tmp_path / "out.png", signed=signed)
    with PIL.open(tmp_path / "out.png") as img:
        assert img.mode == "L"
        written = np.asarray(img)
    expected = scipy_filter(pixels, filters.sobel_x(), "same", "symm")
    np.testing.assert_array_equal(written, np.clip(np.rint(rule(expected)), 0, 255))
    assert ("|value|" if signed == "abs" else "value + 128") in report.rule
    assert "wrote" in str(report) and report.rule in str(report)


def test_png_output_of_a_blur_is_rounded_and_alpha_is_untouched(tmp_path) -> None:
    pixels = image_pixels((10, 12, 4), seed=5)
    write_image(tmp_path / "rgba.png", pixels)
    report = filters.filter_image(tmp_path / "rgba.png", "gaussian:1", boundary="wrap",
                                  out_path=tmp_path / "out.png")
    with PIL.open(tmp_path / "out.png") as img:
        assert img.mode == "RGBA"
        written = np.asarray(img)
    expected = scipy_filter(pixels[:, :, :3], filters.gaussian(1.0), "same", "wrap")
    np.testing.assert_array_equal(written[:, :, :3], np.clip(np.rint(expected), 0, 255))
    np.testing.assert_array_equal(written[:, :, 3], pixels[:, :, 3])
    assert "no negative entries" in report.rule
    # JPEG has no alpha: the colour planes are written, and the report says so
    jpeg = filters.filter_image(tmp_path / "rgba.png", "box:3", out_path=tmp_path / "o.jpg")
    assert any("alpha channel dropped" in note for note in jpeg.notes)
    with PIL.open(tmp_path / "o.jpg") as img:
        assert img.mode == "RGB" and img.size == (12, 10)


def test_sixteen_bit_grayscale_is_put_on_the_8_bit_scale(tmp_path) -> None:
    values = np.random.default_rng(1).integers(0, 65536, (8, 9)).astype(np.uint16)
    PIL.fromarray(values).save(tmp_path / "deep.png")
    filters.filter_image(tmp_path / "deep.png", "box:3", out_path=tmp_path / "out.npy")
    expected = scipy_filter(values.astype(np.float64) / 257.0, filters.box(3), "same", "fill")
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-10)


def test_default_output_path(tmp_path) -> None:
    write_image(tmp_path / "photo.png", image_pixels((6, 6)))
    report = filters.filter_image(tmp_path / "photo.png", "box:3")
    assert report.out_path == str(tmp_path / "photo-filtered.png")
    assert (tmp_path / "photo-filtered.png").is_file()


def test_image_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        filters.filter_image(tmp_path / "missing.png", "sobel_x")
    (tmp_path / "text.png").write_text("this is not a picture")
    with pytest.raises(ValueError, match=r"cannot read .* as an image"):
        filters.filter_image(tmp_path / "text.png", "sobel_x")
    write_image(tmp_path / "small.png", image_pixels((5, 4)))
    with pytest.raises(ValueError, match=r"kernel gaussian \(sigma=1\) \(7 x 7\) is larger "
                                         r"than the image .* \(5 x 4\)"):
        filters.filter_image(tmp_path / "small.png", "gaussian:1", mode="same")
    with pytest.raises(ValueError, match="larger than the image"):
        filters.filter_image(tmp_path / "small.png", "box:5", mode="valid")
    with pytest.raises(ValueError, match=r"unsupported extension '\.gif'"):
        filters.filter_image(tmp_path / "small.png", "box:3", out_path=tmp_path / "o.gif")
    with pytest.raises(ValueError, match="boundary must be one of"):
        filters.filter_image(tmp_path / "small.png", "box:3", boundary="reflect")
    with pytest.raises(ValueError, match="mode must be one of"):
        filters.filter_image(tmp_path / "small.png", "box:3", mode="half")
    with pytest.raises(IsADirectoryError):
        filters.filter_image(tmp_path, "box:3")
