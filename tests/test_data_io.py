"""convkit.utils.data (DataLoader, random_split) and convkit.save/load, against PyTorch."""

from __future__ import annotations

import re
import sys
from collections import namedtuple

import numpy as np
import pytest
import torch

import convkit as ck
from convkit import nn
from convkit.utils.data import DataLoader, Dataset, TensorDataset, default_collate, random_split

safetensors = pytest.importorskip("safetensors", reason="the io extra (safetensors) is missing")
from safetensors.torch import load_file as torch_load_file
from safetensors.torch import save_file as torch_save_file


# ------------------------------------------------------------------ data
def test_dataloader_batches_like_torch_without_shuffle():
    x = np.arange(22, dtype=np.float32).reshape(11, 2)
    y = np.arange(11)
    for drop_last in (False, True):
        dc = DataLoader(TensorDataset(ck.from_numpy(x), ck.from_numpy(y)), batch_size=4,
                        drop_last=drop_last)
        dt = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
            batch_size=4, drop_last=drop_last)
        assert len(dc) == len(dt)
        for (xc, yc), (xt, yt) in zip(dc, dt, strict=True):
            np.testing.assert_array_equal(xc.numpy(), xt.numpy())
            np.testing.assert_array_equal(yc.numpy(), yt.numpy())


def test_shuffle_is_a_seeded_permutation_per_epoch():
    ds = TensorDataset(ck.arange(20))

    def epoch(loader):
        return np.concatenate([b[0].numpy() for b in loader])

    a = DataLoader(ds, batch_size=3, shuffle=True, generator=ck.Generator().manual_seed(7))
    b = DataLoader(ds, batch_size=3, shuffle=True, generator=ck.Generator().manual_seed(7))
    e1, e2 = epoch(a), epoch(a)
    assert sorted(e1) == list(range(20)) and not np.array_equal(e1, e2)
    np.testing.assert_array_equal(e1, epoch(b))


class _Pairs(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(2, i, np.float32), "n": i, "f": float(i), "name": f"s{i}"}


def test_collate_matches_torch():
    dc = list(DataLoader(_Pairs(), batch_size=2))
    dt = list(torch.utils.data.DataLoader(_Pairs(), batch_size=2))
    for bc, bt in zip(dc, dt, strict=True):
        assert bc["name"] == bt["name"]
        for k in ("x", "n", "f"):
            assert str(bc[k].dtype).split(".")[1] == str(bt[k].dtype).split(".")[1]
            np.testing.assert_array_equal(bc[k].numpy(), bt[k].numpy())
    Point = namedtuple("Point", "a b")
    out = default_collate([Point(ck.zeros(2), 1), Point(ck.ones(2), 2)])
    assert isinstance(out, Point) and out.a.shape == (2, 2)
    tup = default_collate([(1, 2.5), (3, 4.5)])
    assert isinstance(tup, list) and tup[0].dtype == ck.int64 and tup[1].dtype == ck.float64
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])


@pytest.mark.parametrize("bad", [0, -3])
def test_bad_batch_size_raises_value_error_like_torch(bad):
    ds = TensorDataset(ck.zeros(4))
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=bad)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(4)),
                                    batch_size=bad)


def test_dataloader_option_errors():
    ds = TensorDataset(ck.zeros(4))
    with pytest.raises(ValueError):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(AssertionError):
        TensorDataset(ck.zeros(3), ck.zeros(4))
    unbatched = list(DataLoader(ds, batch_size=None))
    assert len(unbatched) == 4 and unbatched[0][0].shape == ()


def test_random_split_lengths_fractions_and_errors():
    a, b, c = random_split(range(10), [0.5, 0.3, 0.2], generator=ck.Generator().manual_seed(0))
    assert (len(a), len(b), len(c)) == (5, 3, 2)
    assert sorted([*a, *b, *c]) == list(range(10))
    # Remainders go round-robin, as in torch
    sizes_c = [len(s) for s in random_split(range(11), [0.5, 0.5])]
    sizes_t = [len(s) for s in torch.utils.data.random_split(range(11), [0.5, 0.5])]
    assert sizes_c == sizes_t
    same1 = [list(s) for s in random_split(range(9), [4, 5], ck.Generator().manual_seed(3))]
    same2 = [list(s) for s in random_split(range(9), [4, 5], ck.Generator().manual_seed(3))]
    assert same1 == same2
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Sum of input lengths"):
        torch.utils.data.random_split(range(10), [3, 3])


# ------------------------------------------------------------------ save / load
def _nets():
    def build(mod):
        return mod.Sequential(mod.Conv2d(1, 3, 3), mod.BatchNorm2d(3), mod.ReLU(),
                              mod.Flatten(), mod.Linear(3 * 6 * 6, 4))
    torch.manual_seed(1)
    return build(nn), build(torch.nn)


def _outputs_equal(c, t):
    c.eval()
    t.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(c(ck.from_numpy(x)).detach().numpy(),
                               t(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_convkit_safetensors_loads_in_torch(tmp_path):
    c, t = _nets()
    c(ck.randn(4, 1, 8, 8))  # move the BatchNorm running stats off their defaults
    path = tmp_path / "w.safetensors"
    ck.save(c.state_dict(), path)
    t.load_state_dict(torch_load_file(str(path)))
    _outputs_equal(c, t)


def test_torch_safetensors_loads_in_convkit(tmp_path):
    c, t = _nets()
    t(torch.randn(4, 1, 8, 8))
    path = tmp_path / "w.safetensors"
    torch_save_file(t.state_dict(), str(path))
    loaded = ck.load(path)
    assert set(loaded) == set(t.state_dict())
    c.load_state_dict(loaded)
    _outputs_equal(c, t)
    assert c[1].num_batches_tracked.dtype == ck.int64


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_state_dict_round_trip_keeps_order_dtype_shape(tmp_path, suffix):
    c, _ = _nets()
    sd = c.state_dict()
    ck.save(sd, tmp_path / f"w{suffix}")
    back = ck.load(tmp_path / f"w{suffix}")
    assert list(back) == list(sd)
    for k in sd:
        assert back[k].dtype == sd[k].dtype and back[k].shape == sd[k].shape
        np.testing.assert_array_equal(back[k].numpy(), sd[k].numpy())
    back["0.weight"].add_(1)  # loaded tensors are writable, private copies


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_optimizer_state_round_trip(tmp_path, suffix):
    c, _ = _nets()
    opt = ck.optim.AdamW(c.parameters(), lr=0.01, amsgrad=True)
    c(ck.randn(2, 1, 8, 8)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    ck.save(sd, tmp_path / f"o{suffix}")
    back = ck.load(tmp_path / f"o{suffix}")
    assert back["param_groups"] == sd["param_groups"]
    assert list(back["state"]) == list(sd["state"])
    for i, s in sd["state"].items():
        assert list(back["state"][i]) == list(s)
        for k, v in s.items():
            assert back["state"][i][k].shape == v.shape
            np.testing.assert_array_equal(back["state"][i][k].numpy(), v.numpy())
    opt2 = ck.optim.AdamW(c.parameters())
    opt2.load_state_dict(back)
    assert opt2.param_groups[0]["betas"] == (0.9, 0.999)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_damaged_files_raise_and_leave_model_untouched(tmp_path, suffix, damage):
    c, _ = _nets()
    path = tmp_path / f"w{suffix}"
    ck.save(c.state_dict(), path)
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[:len(raw) // 2]
    elif damage == "garbage":
        raw = bytearray(b"not a weights file at all" * 3)
    else:
        raw[:8] = b"\xff" * 8
    path.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match=re.escape(path.name)):
        ck.load(path)


def test_load_state_dict_from_wrong_architecture_loads_nothing(tmp_path):
    c, _ = _nets()
    other = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(3 * 6 * 6, 5))
    ck.save(other.state_dict(), tmp_path / "o.safetensors")
    before = {k: v.numpy().copy() for k, v in c.state_dict().items()}
    with pytest.raises(RuntimeError, match=r"size mismatch for 4\.weight"):
        c.load_state_dict(ck.load(tmp_path / "o.safetensors"))
    for k, v in c.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_save_load_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unsupported file suffix"):
        ck.save({"a": ck.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(TypeError):
        ck.save({"a": object()}, tmp_path / "x.npz")
    with pytest.raises(FileNotFoundError):
        ck.load(tmp_path / "missing.npz")
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r"pip install convkit\[io\]"):
        ck.save({"a": ck.zeros(1)}, tmp_path / "x.safetensors")


def test_npz_has_no_pickle(tmp_path):
    ck.save({"state": {0: {"step": ck.tensor(3.0)}}, "param_groups": [{"lr": 0.1}]},
            tmp_path / "o.npz")
    with np.load(tmp_path / "o.npz", allow_pickle=False) as data:
        assert "state.0.step" in data.files
    assert float(ck.load(tmp_path / "o.npz")["state"][0]["step"]) == 3.0
