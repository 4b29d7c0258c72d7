"""``convkit tour``: it runs to the end through the real CLI, prints the seeds' values,
writes valid pictures, and its transcript is a doctest that replays.

The tour runs once per test session in quick mode (one training epoch), in a subprocess,
exactly as ``convkit tour --quick`` does for a user.
"""

from __future__ import annotations

import doctest
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import convkit
from convkit import tour

REPO = Path(__file__).resolve().parents[1]
FIGURES = ["01_definition.png", "02_sliding_window.png", "04_strides.png",
           "05_kernels_2_to_3.png", "05_feature_maps_2_to_3.png", "05_groups_wiring.png",
           "06_dilation.png", "06_contamination.png", "07_loss.png",
           "08_first_layer_kernels.png", "08_feature_maps.png"]


def run_cli(*args: str, cwd: Path, env: dict | None = None
            ) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run([sys.executable, "-m", "convkit", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def quick_tour(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str], float]:
    pytest.importorskip("matplotlib", reason="the tour's figures need the viz extra")
    folder = tmp_path_factory.mktemp("tour")
    start = time.perf_counter()
    result = run_cli("tour", "--quick", "--out", "figures", cwd=folder)
    return folder, result, time.perf_counter() - start


def sections(transcript: str) -> dict[str, str]:
    """The transcript cut at the section headings ("3. Title" over a line of '=')."""
    parts = re.split(r"^(\d+)\. .*\n=+\n", transcript, flags=re.M)
    return {tour.SECTIONS[int(number) - 1].name: body
            for number, body in zip(parts[1::2], parts[2::2], strict=True)}


# ------------------------------------------------------------------ the whole tour
def test_tour_runs_to_the_end(quick_tour) -> None:
    _, result, seconds = quick_tour
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert re.search(r"^Done in [\d.]+ s\. Figures written: 11$", result.stdout, re.M)
    assert list(sections(result.stdout)) == [s.name for s in tour.SECTIONS]
    assert seconds < 120  # the brief's budget for the whole tour, here in quick mode
    assert "(quick)" in result.stdout and "TrainConfig(epochs=1," in result.stdout


def test_every_figure_is_a_valid_png(quick_tour) -> None:
    from PIL import Image

    folder, result, _ = quick_tour
    written = sorted(p.name for p in (folder / "figures").glob("*.png"))
    assert written == sorted(FIGURES)
    listed = re.findall(r"^  figures/(\S+\.png)  ", result.stdout, re.M)
    assert listed == FIGURES  # the closing list names every file, in the order written
    for name in FIGURES:
        path = folder / "figures" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        with Image.open(path) as img:
            img.load()
            assert img.size[0] >= 300 and img.size[1] >= 200, (name, img.size)
            rgb = np.asarray(img.convert("RGB")).astype(np.uint32)  # (H, W, 3)
        colours = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
        assert len(colours) > 20, f"{name} is nearly flat"


def test_transcript_shows_the_seeds_values(quick_tour) -> None:
    _, result, _ = quick_tour
    by_section = sections(result.stdout)
    edge = by_section["edge"]
    assert edge.count("[0. 0. 9. 9. 0. 0.]") == 6 and "(6, 6)" in edge
    scipy_part = by_section["scipy"]
    assert scipy_part.count("[ 0.,  0., -9., -9.,  0.,  0.]") == 6  # conv2d's -9
    assert "tensor([0., 0., 9., 6., 3., 0.], dtype=convkit.float64)" in scipy_part
    assert "array([0., 0., 3., 6., 9., 0.])" in scipy_part
    assert "convkit.Size([1, 1, 8, 8])" in by_section["axes"]
    assert "convkit.Size([32, 7, 124, 124])" in by_section["axes"]
    views = by_section["views"]
    assert "((1, 5), False)" in views and "((2, 1), tensor([0, 5, 1, 6, 2, 7, 3, 8, 4, 9]))" \
        in views
    assert "RuntimeError: view size is not compatible with input tensor's size" in views
    assert "RuntimeError: shape '[3, -1]' is invalid for input of size 10" in views
    groups = by_section["groups"]
    assert groups.count("[ 0,  0, -1,  0,  5,  0]") == 6  # the lecture's int8 output
    assert "tensor([[ True,  True, False, False]])" in groups
    assert "ValueError: Conv2d: out_channels must be divisible by groups" in groups
    padding = by_section["padding"]
    for printed in ("[[[[19., 25.],", "[ 9., 19., 25., 10.],", "[[[[ 0.,  8.],",
                    "[21., 43.]]]]"):
        assert printed in padding
    assert "floor((3 + 2*1 - 1*(2-1) - 1)/2) + 1 = 2" in padding
    assert "lost: [7]" in padding
    assert "(convkit.Size([1, 1, 6, 6]), True)" in padding  # 'same' = pad (1, 2)
    learning = by_section["learning"]
    for epoch, loss in zip((2, 4, 6, 8, 10),
                           ("1.667570", "0.280130", "0.047145", "0.007970", "0.001362"),
                           strict=True):
        assert f"epoch {epoch}, loss  {loss}" in learning  # seed 002's printout
    assert "tensor([[ 0.9926, -0.9940]])" in learning
    assert "tensor([[ 1.0000, -1.0000]])" in learning
    digits = by_section["digits"]
    assert re.search(r"test accuracy \d+\.\d\d% \(\d+/359\)", digits)
    assert "labels: [5, 9, 2, 4, 6, 7, 9, 3, 4, 6, 8, 5]" in digits


def test_transcript_replays_as_a_doctest(quick_tour, tmp_path) -> None:
    """The code the tour shows is the code that ran: its transcript, fed to doctest, gives
    the same output again (all sections but the training, whose timings vary)."""
    _, result, _ = quick_tour
    parser = doctest.DocTestParser()
    for name, body in sections(result.stdout).items():
        if name == "digits":
            continue
        text = _as_doctest(body)
        test = parser.get_doctest(text, {"OUT": tmp_path, "__name__": "__tour__"}, name,
                                  None, 0)
        assert len(test.examples) >= 5, name
        # drawing is checked on the PNGs above; here only the printed values matter
        test.examples = [ex for ex in test.examples if "viz." not in ex.source]
        convkit.manual_seed(0)  # as the tour seeds each section
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        out = io.StringIO()
        runner.run(test, out=out.write)
        assert runner.failures == 0, out.getvalue()[-4000:]


def _as_doctest(body: str) -> str:
    """Tour lines as doctest source: annotations dropped, blank lines inside an output
    marked <BLANKLINE> (a bare blank line ends the expected output in doctest)."""
    lines = [line for line in body.splitlines() if not line.startswith("    [figure] ")]
    marked = []
    for i, line in enumerate(lines):
        inside = (not line.strip() and 0 < i < len(lines) - 1
                  and lines[i - 1].startswith("    ") and lines[i + 1].startswith("    ")
                  and not lines[i + 1].startswith("    >>> "))
        marked.append("    <BLANKLINE>" if inside else line)
    return "\n".join(marked)


# ------------------------------------------------------------------ parts of the CLI
def test_list_one_section_and_an_unknown_one(tmp_path) -> None:
    listing = run_cli("tour", "--list", cwd=tmp_path)
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert [line.split()[1] for line in lines] == [s.name for s in tour.SECTIONS]
    assert lines[5].startswith(" 6. padding")
    one = run_cli("tour", "views", "--out", "v", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert "4. view() and reshape()" in one.stdout and "1. The 8x8" not in one.stdout
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == ["04_strides.png"]
    bad = run_cli("tour", "nowhere", cwd=tmp_path)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.splitlines() == [
        "convkit: error: unknown tour section 'nowhere'; choose from edge, scipy, axes, "
        "views, groups, padding, learning, digits (or 1-8)"]


def test_quick_mode_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(tour.QUICK_ENV, "1")
    stream = io.StringIO()
    captured: list = []
    monkeypatch.setattr(tour, "SECTIONS", (tour.Section(
        "probe", "probe", "probe", lambda lesson: captured.append(lesson.quick)),))
    tour.run_tour(stream=stream, out_dir=tmp_path / "figures")
    assert captured == [True] and "(quick)" in stream.getvalue()


def test_lesson_shows_each_statement_once_and_echoes_like_the_prompt(tmp_path) -> None:
    stream = io.StringIO()
    lesson = tour.Lesson(tmp_path, quick=True, stream=stream)
    lesson.start()
    lesson.run("""
        a = 1; b = 2
        # a comment stays with its statement
        a + b
        for k in range(2):
            k * 10
        print("line one\\nline two")
        None
        """)
    assert stream.getvalue().splitlines() == [
        "",
        "    >>> a = 1; b = 2",
        "    >>> # a comment stays with its statement",
        "    >>> a + b",
        "    3",
        "    >>> for k in range(2):",
        "    ...     k * 10",
        "    0",
        "    10",
        "    >>> print(\"line one\\nline two\")",
        "    line one",
        "    line two",
        "    >>> None",
    ]
    assert lesson.namespace["OUT"] == tmp_path
    with pytest.raises(RuntimeError, match="should have written"):
        lesson.figure("x = 1", {"never.png": "a figure the code does not write"})


def test_without_matplotlib_the_tour_runs_and_says_what_it_skipped(monkeypatch,
                                                                  tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    stream = io.StringIO()
    figures = tour.run_tour(["edge"], out_dir=tmp_path / "figs", stream=stream)
    text = stream.getvalue()
    assert figures == [] and not list((tmp_path / "figs").glob("*.png"))
    assert "matplotlib is not installed" in text
    assert "(figure 01_definition.png skipped: it needs matplotlib" in text
    assert text.count("[0. 0. 9. 9. 0. 0.]") == 6  # the lesson itself still runs
