"""``convkit train``: a LeNet-style CNN on the 8x8 UCI handwritten digits, end to end.

The loop is the one a PyTorch user writes (``model(x)``, ``loss.backward()``,
``optimizer.step()``), run on convkit; the data ship with the package (``convkit.data``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import convkit
from convkit import nn
from convkit.utils.data import DataLoader, TensorDataset

__all__ = ["LeNet", "TrainConfig", "TrainResult", "load_digit_splits", "train"]


class LeNet(nn.Module):
    """Two conv/ReLU/max-pool stages and a two-layer classifier, sized for 8x8 inputs.

    Shape: ``(N, 1, 8, 8)`` -> conv 3x3 pad 1 -> ``(N, 16, 8, 8)`` -> pool -> ``(N, 16, 4, 4)``
    -> conv 3x3 pad 1 -> ``(N, 32, 4, 4)`` -> pool -> ``(N, 32, 2, 2)`` -> flatten ``(N, 128)``
    -> linear ``(N, 64)`` -> linear ``(N, 10)`` logits.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, x: convkit.Tensor) -> convkit.Tensor:
        return self.classifier(self.features(x))


@dataclass
class TrainConfig:
    epochs: int = 20
    lr: float = 1e-2
    batch_size: int = 32
    seed: int = 0
    test_fraction: float = 0.2
    out: str | None = None
    progress: bool = True


@dataclass
class TrainResult:
    test_accuracy: float
    per_class: list[tuple[int, int, int]]  # (class, correct, total)
    losses: list[float] = field(default_factory=list)  # mean train loss per epoch
    seconds: float = 0.0
    out: str | None = None


def load_digit_splits(seed: int, test_fraction: float = 0.2
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The shipped digits, scaled to [0, 1] as ``(N, 1, 8, 8)`` float32, split by a
    permutation drawn from ``seed`` (stratified: each class keeps ``test_fraction``)."""
    from convkit.data import load_digits

    images, target = load_digits()
    x = (images.astype(np.float32) / 16.0)[:, None]  # (1797, 1, 8, 8): N, C, H, W
    y = target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test_idx = []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        test_idx.extend(idx[:round(len(idx) * test_fraction)].tolist())
    test_mask = np.zeros(len(y), bool)
    test_mask[test_idx] = True
    return x[~test_mask], y[~test_mask], x[test_mask], y[test_mask]


def _progress(iterable: Any, total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar when tqdm is installed (the ``train`` extra) and wanted, else the iterable."""
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr,
                dynamic_ncols=True)


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512
             ) -> np.ndarray:
    """Predicted classes for ``x`` (eval mode, no graph)."""
    model.eval()
    preds = []
    with convkit.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(convkit.from_numpy(x[start:start + batch_size]))
            preds.append(logits.numpy().argmax(1))
    model.train()
    return np.concatenate(preds)


def train(config: TrainConfig, log: Callable[[str], None] = print) -> TrainResult:
    """Train :class:`LeNet` with Adam and cross-entropy; deterministic for ``config.seed``."""
    if config.epochs < 1:
        raise ValueError(f"train: epochs must be at least 1, got {config.epochs}")
    start_time = time.perf_counter()
    x_train, y_train, x_test, y_test = load_digit_splits(config.seed, config.test_fraction)
    convkit.manual_seed(config.seed)
    model = LeNet()
    optimizer = convkit.optim.Adam(model.parameters(), lr=config.lr)
    criterion = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(convkit.from_numpy(x_train), convkit.from_numpy(y_train)),
                        batch_size=config.batch_size, shuffle=True,
                        generator=convkit.Generator().manual_seed(config.seed))
    scheduler = convkit.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs * len(loader))
    log(f"training LeNet on {len(x_train)} digits, testing on {len(x_test)} "
        f"(epochs={config.epochs}, lr={config.lr}, batch size={config.batch_size}, "
        f"seed={config.seed})")
    losses = []
    for epoch in range(1, config.epochs + 1):
        total, count = 0.0, 0
        for xb, yb in _progress(loader, len(loader), f"epoch {epoch}/{config.epochs}",
                                config.progress):
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(yb)
            count += len(yb)
        losses.append(total / count)
        acc = float((evaluate(model, x_test, y_test) == y_test).mean())
        log(f"epoch {epoch:>3}/{config.epochs}  loss {losses[-1]:.4f}  test accuracy "
            f"{100 * acc:6.2f}%")
    pred = evaluate(model, x_test, y_test)
    per_class = [(c, int(((pred == c) & (y_test == c)).sum()), int((y_test == c).sum()))
                 for c in range(10)]
    accuracy = float((pred == y_test).mean())
    log("class  correct  total  accuracy")
    for c, right, n in per_class:
        log(f"{c:>5}  {right:>7}  {n:>5}  {100 * right / n:7.2f}%")
    log(f"test accuracy {100 * accuracy:.2f}% ({int((pred == y_test).sum())}/{len(y_test)})")
    if config.out:
        convkit.save(model.state_dict(), config.out)
        log(f"saved weights to {config.out}")
    seconds = time.perf_counter() - start_time
    log(f"done in {seconds:.1f} s")
    return TrainResult(accuracy, per_class, losses, seconds, config.out)
