"""The ``convkit`` command, run as a user runs it: in a subprocess.

Bad input of every kind (unknown layer, malformed shape, missing or unreadable image, a
kernel larger than the image, a factory that does not exist...) must give one line
``convkit: error: ...`` on stderr and a nonzero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch

import convkit


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "convkit", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"convkit {convkit.__version__}"


def test_help_lists_the_demo() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert "demo" in result.stdout and "usage: convkit" in result.stdout


def test_demo_prints_the_seed_step_edge() -> None:
    result = _run("demo")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "-9., -9." in line]
    assert len(rows) == 6
    assert "[[[[ 0.,  0., -9., -9.,  0.,  0.]," in result.stdout
    assert "dtype=convkit.float64)" in result.stdout
    assert "(1, 1, 6, 6)" in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = _run("no-such-command")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------ explain, summary, filter
REPO = Path(__file__).resolve().parents[1]

MODELS = textwrap.dedent("""\
    from convkit import nn

    def build_model():
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(8, 4, 3, groups=4))

    INSTANCE = build_model()
    NOT_A_MODEL = 42

    def returns_a_number():
        return 7

    def needs_an_argument(width):
        return nn.Conv2d(width, width, 3)

    class Broken(nn.Module):
        def forward(self, x):
            return {}["a bug in the user's own model"]

    def broken():
        return Broken()
    """)


def _run_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``convkit ARGS`` run from ``folder`` (where a user's files are)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "convkit", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder with a models module, images and a text file posing as a PNG."""
    from PIL import Image

    (tmp_path / "models.py").write_text(MODELS)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    Image.fromarray(rng.integers(0, 256, (5, 6), dtype=np.uint8)).save(tmp_path / "small.png")
    (tmp_path / "notes.png").write_text("not an image at all")
    np.save(tmp_path / "kernel3d.npy", np.ones((3, 3, 3)))
    return tmp_path


def test_help_lists_every_command() -> None:
    result = _run("--help")
    for command in ("demo", "train", "explain", "summary", "filter", "tour"):
        assert f"    {command}  " in result.stdout, command


def test_explain_report_json_and_picture(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="--png needs the viz extra")
    spec = "Conv2d(4, 6, 3, stride=2, padding=1, groups=2)"
    text = _run_in(tmp_path, "explain", spec, "--input", "1,4,9,9", "--png", "e.png")
    assert text.returncode == 0, text.stderr
    assert "floor((9 + 2*1 - 1*(3-1) - 1)/2) + 1 = 5" in text.stdout
    assert text.stdout.rstrip().endswith("wrote e.png")
    data = (tmp_path / "e.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    as_json = _run_in(tmp_path, "explain", spec, "--input", "1,4,9,9", "--json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    oracle = torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert list(report["output_shape"]) == list(oracle(torch.zeros(1, 4, 9, 9)).shape)
    assert list(report["weight_shape"]) == list(oracle.weight.shape)


def test_summary_imports_a_factory_from_the_current_folder(workdir: Path) -> None:
    oracle = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                                 torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 4, 3, groups=4))
    total = sum(p.numel() for p in oracle.parameters())
    for target in ("models:build_model", "models:INSTANCE"):
        result = _run_in(workdir, "summary", target, "--input", "1,3,16,16")
        assert result.returncode == 0, result.stderr
        assert f"Total params: {total:,}" in result.stdout
        assert "[1, 4, 6, 6]" in result.stdout  # the last layer's output shape
    inline = _run_in(workdir, "summary", "Sequential(Conv2d(1, 2, 3), ReLU())", "--input",
                     "1,1,8,8")
    assert inline.returncode == 0, inline.stderr
    assert "Total params: 20" in inline.stdout


def test_filter_writes_the_true_convolution(workdir: Path) -> None:
    from PIL import Image

    result = _run_in(workdir, "filter", "in.png", "--kernel", "sobel_x", "--mode", "same",
                     "--boundary", "symm", "-o", "out.png")
    assert result.returncode == 0, result.stderr
    assert "wrote |value| clipped to 0-255" in result.stdout
    assert result.stdout.rstrip().endswith("wrote out.png")
    pixels = np.asarray(Image.open(workdir / "in.png")).astype(np.float64)
    sobel = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    expected = np.stack([scipy.signal.convolve2d(pixels[..., c], sobel, mode="same",
                                                 boundary="symm") for c in range(3)], axis=2)
    with Image.open(workdir / "out.png") as img:
        written = np.asarray(img)
    np.testing.assert_array_equal(written, np.clip(np.rint(np.abs(expected)), 0, 255))
    raw = _run_in(workdir, "filter", "in.png", "-k", "gaussian:1.2", "-o", "out.npy")
    assert raw.returncode == 0, raw.stderr
    assert np.load(workdir / "out.npy").shape == (20, 24, 3)


BAD_INPUT = [
    (["explain", "Conv2dd(4, 4, 3)", "--input", "1,4,8,8"], 1, "unknown layer 'Conv2dd'"),
    (["explain", "Conv2d(4, 4, 3)", "--input", "1,x,3"], 2, "expected a shape"),
    (["explain", "Conv2d(4, 4, 3)", "--input", "1,4,0,8"], 2, "positive integers"),
    (["explain", "Conv2d(4, 4", "--input", "1,4,8,8"], 1, "cannot parse layer spec"),
    (["explain", "open('pwned.txt', 'w')", "--input", "1,1,4,4"], 1, "unknown layer 'open'"),
    (["explain", "__import__('os').system('touch pwned.txt')", "--input", "1,1,4,4"], 1,
     "is not a layer name"),
    (["explain", "Conv2d(4, 4, 3)", "--input", "1,4,8,8", "--png", "p.jpg"], 1, "ending in .png"),
    (["filter", "missing.png", "--kernel", "sobel_x"], 1, "no such file: 'missing.png'"),
    (["filter", "notes.png", "--kernel", "sobel_x"], 1, "cannot read 'notes.png' as an image"),
    (["filter", "small.png", "--kernel", "gaussian:2"], 1,
     "(13 x 13) is larger than the image 'small.png' (5 x 6)"),
    (["filter", "in.png", "--kernel", "sobelx"], 1, "unknown kernel 'sobelx'"),
    (["filter", "in.png", "--kernel", "gaussian:-2"], 1, "sigma must be a positive"),
    (["filter", "in.png", "--kernel", "box:3", "-o", "out.gif"], 1, "unsupported extension"),
    (["filter", "in.png", "--kernel", "box:3", "--boundary", "mirror"], 2, "invalid choice"),
    (["summary", "no_such_module:build", "--input", "1,1,8,8"], 1,
     "cannot import module 'no_such_module'"),
    (["summary", "models:missing", "--input", "1,3,8,8"], 1, "has no attribute 'missing'"),
    (["summary", "models:NOT_A_MODEL", "--input", "1,3,8,8"], 1, "neither a Module"),
    (["summary", "models:returns_a_number", "--input", "1,3,8,8"], 1,
     "returned a int, not a convkit.nn.Module"),
    (["summary", "models:needs_an_argument", "--input", "1,3,8,8"], 1,
     "must take no required arguments"),
    (["summary", "models:build_model", "--input", "1,5,8,8"], 1, "channels"),
    # the error names the shape given, not the empty batch explain validates with
    (["explain", "Conv2d(4, 4, 3)", "--input", "2,3,8,8"], 1, "input of size [2, 3, 8, 8]"),
    (["explain", "Conv2d(4, 4, 3)", "--input", "1,4,2,2"], 1, "Kernel size can't be greater"),
    (["explain", "Conv2d(4, 4, 3, bogus=1)", "--input", "1,4,8,8"], 1,
     "Conv2d.__init__() got an unexpected keyword argument 'bogus'"),
    (["explain", "Linear(4, 4)", "--input", "1,4"], 1, "not a convolution, pooling"),
    (["explain", "Conv2d(4, 4, 3)", "--input", "1,4,8,8", "--png", "no/such/dir/p.png"], 1,
     "does not exist"),
    (["explain", "Conv2d(10**15, 4, 3)", "--input", "1,4,8,8"], 1, "not a literal"),
    (["explain", "Conv2d(1000000000000000, 4, 3)", "--input", "1,4,8,8"], 1, "out of memory"),
    (["filter", "in.png", "--kernel", "kernel3d.npy"], 1, "must hold a non-empty 2-d array"),
    (["filter", "in.png", "--kernel", "missing.npy"], 1, "no such file: 'missing.npy'"),
    (["filter", "in.png", "--kernel", "box:3", "-o", "no/such/dir/out.png"], 1,
     "cannot write"),
    (["filter", "small.png", "--kernel", "box:7", "--mode", "valid"], 1,
     "is larger than the image"),
    (["tour", "no-such-section"], 1, "unknown tour section 'no-such-section'"),
    (["summary", "models", "--input", "1,3,8,8"], 1, "expected MODULE:FACTORY"),
    (["summary", "models:broken", "--input", "1,3,8,8"], 1,
     "KeyError: \"a bug in the user's own model\" (unexpected; set CONVKIT_TRACEBACK=1"),
]


@pytest.mark.parametrize("args,status,words", BAD_INPUT,
                         ids=[" ".join(a[:2]) + f"-{i}" for i, (a, _, _) in enumerate(BAD_INPUT)])
def test_bad_input_is_one_line_and_a_nonzero_exit(workdir: Path, args: list[str], status: int,
                                                  words: str) -> None:
    result = _run_in(workdir, *args)
    assert result.returncode == status, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("convkit: error: ")
    assert words in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (workdir / "pwned.txt").exists()  # the layer string is never evaluated


def test_traceback_on_request(workdir: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), CONVKIT_TRACEBACK="1")
    result = subprocess.run([sys.executable, "-m", "convkit", "summary", "models:broken",
                             "--input", "1,3,8,8"], cwd=workdir, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "KeyError" in result.stderr


def test_explain_of_a_huge_input_answers_at_once(tmp_path: Path) -> None:
    """No window is listed one by one: 10**8 x 10**8 pixels are explained in seconds."""
    result = _run_in(tmp_path, "explain", "Conv2d(4, 4, 3, stride=2)", "--input",
                     "1,4,100000000,100000000")
    assert result.returncode == 0, result.stderr
    assert "floor((100000000 + 2*0 - 1*(3-1) - 1)/2) + 1 = 49999999" in result.stdout
    assert "[99999999]" in result.stdout  # the last row and column are never read


# ------------------------------------------------------------------ doctor and calibrate
def test_doctor_reports_the_blas_cores_and_planner_calibration() -> None:
    result = _run("doctor")
    assert result.returncode == 0, result.stderr
    for field in ("NumPy", "usable cores", "BLAS", "AVX-512", "conv planner"):
        assert field in result.stdout
    as_json = json.loads(_run("doctor", "--json").stdout)
    assert as_json["usable_cores"] >= 1


def test_calibrate_writes_fitted_constants_the_planner_can_load(tmp_path: Path) -> None:
    result = _run("calibrate", "--quick", "--only", "conv", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    constants = json.loads((tmp_path / "conv_constants.json").read_text())
    assert constants["meta"]["written_by"] == "convkit calibrate --quick"
    # every algorithm that ran got a non-negative coefficient vector per kind it computes
    taps = constants["coef"]["taps"]
    assert set(taps) == {"forward", "grad_input", "grad_weight"}
    assert all(c >= 0 for per_kind in taps.values() for cs in per_kind.values() for c in cs)
    assert all(v["problems"] >= 1 and v["worst"] >= 1.0
               for v in constants["misprediction"].values())
    # the planner prices calls with them once pointed at the file
    probe = ("import convkit; p = convkit.backends.plan('forward', (2, 8, 16, 16), "
             "(8, 8, 3, 3), padding=1); print(p.seconds)")
    env = dict(os.environ, CONVKIT_CONV_CONSTANTS=str(tmp_path / "conv_constants.json"))
    seconds = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             env=env, check=True).stdout
    assert 0 < float(seconds) < 1
