"""The ``convkit train`` job: CLI output, saved weights, determinism and accuracy."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import convkit as ck
from convkit.train import LeNet, TrainConfig, load_digit_splits, train


def test_digits_ship_with_the_package():
    x_train, _, x_test, y_test = load_digit_splits(0)
    assert len(x_train) + len(x_test) == 1797
    assert x_train.shape[1:] == (1, 8, 8) and x_train.dtype == np.float32
    assert set(np.unique(y_test)) == set(range(10))
    a = load_digit_splits(3)[3]
    np.testing.assert_array_equal(a, load_digit_splits(3)[3])


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_cli_one_epoch_prints_table_and_saves(tmp_path, suffix):
    if suffix == ".safetensors":
        pytest.importorskip("safetensors", reason="the io extra (safetensors) is missing")
    out = tmp_path / f"lenet{suffix}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-m", "convkit", "train", "--epochs", "1",
                           "--seed", "1", "--batch-size", "64", "--out", str(out),
                           "--no-progress"], capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "class  correct  total  accuracy" in text
    rows = re.findall(r"^\s+(\d)\s+(\d+)\s+(\d+)\s+([\d.]+)%$", text, re.M)
    assert [int(r[0]) for r in rows] == list(range(10))
    assert sum(int(r[2]) for r in rows) == 359
    assert re.search(r"test accuracy \d+\.\d\d% \(\d+/359\)", text)
    model = LeNet()
    model.load_state_dict(ck.load(out))


def test_cli_rejects_bad_out_suffix(tmp_path):
    from convkit.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path / "w.pt")])


def test_same_seed_same_run():
    a = train(TrainConfig(epochs=1, seed=5, progress=False), log=lambda s: None)
    b = train(TrainConfig(epochs=1, seed=5, progress=False), log=lambda s: None)
    assert a.losses == b.losses and a.per_class == b.per_class


def test_full_default_run_reaches_97_percent():
    """The default flags (20 epochs); about 15 s on 2 cores."""
    lines = []
    result = train(TrainConfig(progress=False), log=lines.append)
    assert result.test_accuracy >= 0.97, "\n".join(lines)
    assert result.seconds < 60
