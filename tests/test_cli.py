"""The ``convkit`` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import subprocess
import sys

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
