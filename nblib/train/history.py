"""The per-epoch record of one training run, and how one epoch's measurements enter it.

Besides loss and accuracy, every epoch records what the lessons need to *see* memorisation:

- ``clean_acc``           accuracy on training samples whose label was not flipped;
- ``flipped_acc_noisy``   share of flipped samples predicted as their *wrong* label (memorised);
- ``flipped_acc_true``    share of flipped samples predicted as their *true* label;
- ``flipped_grad_share``  share of the gradient carried by flipped samples,
                          sum_{i flipped} ||dL_i/dz_i|| / sum_i ||dL_i/dz_i||, z the logits.
                          Each sample's loss depends only on its own logits, so the per-sample
                          gradient is one row of ``d(sum L)/dz``: free to read off the backward pass;
- ``val_acc``             accuracy on a validation set with *noisy* labels, when the run has one
                          (``fit(..., val=...)``): what a practitioner without clean labels sees.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

NAN = float("nan")
LATE_EPOCHS = 10      # History.late_oscillation: the window of epochs at the end of training


def accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``pred == y`` (nan for an empty subset, so plots show a gap, not a fake 0)."""
    return (pred == y).float().mean().item() if len(y) else NAN


@dataclass
class History:
    """Per-epoch record of one training run (lists are indexed by epoch - 1)."""

    epoch: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    clean_acc: list = field(default_factory=list)
    flipped_acc_noisy: list = field(default_factory=list)
    flipped_acc_true: list = field(default_factory=list)
    flipped_grad_share: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    time: list = field(default_factory=list)
    config: dict = field(default_factory=dict)

    METRICS = ("loss", "train_acc", "test_acc", "clean_acc", "flipped_acc_noisy",
               "flipped_acc_true", "flipped_grad_share", "val_acc", "time")

    @property
    def best_test_acc(self) -> float:
        """Highest test accuracy over epochs (the papers' model selection on the test set)."""
        return max(self.test_acc) if self.test_acc else NAN

    @property
    def final_test_acc(self) -> float:
        """Test accuracy after the last epoch."""
        return self.test_acc[-1] if self.test_acc else NAN

    def late_oscillation(self, last: int = LATE_EPOCHS) -> float:
        """Mean absolute change of test accuracy between consecutive epochs over the last ``last``
        epochs (``last - 1`` changes): how much the model still swings at the end of training. Unlike
        best minus final, which also counts a steady fall (memorisation), it measures instability."""
        if not isinstance(last, int) or isinstance(last, bool) or not 2 <= last:
            raise ValueError(f"last must be an int >= 2 (epochs), got {last!r}")
        acc = self.test_acc[-last:]
        if len(acc) < 2:
            return NAN
        return sum(abs(b - a) for a, b in zip(acc, acc[1:])) / (len(acc) - 1)

    @property
    def best_epoch(self) -> int:
        """Epoch (1-based) of the best test accuracy."""
        return self.epoch[max(range(len(self.test_acc)), key=self.test_acc.__getitem__)]

    def record(self, epoch: int, *, loss: float, pred_test, y_test, pred_train=None, y=None, y_true=None,
               flipped=None, grad_share: float = NAN, pred_val=None, y_val=None, elapsed: float = NAN) -> None:
        """Append one epoch: predictions (class indices) on the test set, and, when given, on the
        training set (``pred_train`` against the given labels ``y``, the true labels ``y_true`` and
        the ``flipped`` mask) and on a noisy validation set."""
        self.epoch.append(epoch)
        self.loss.append(loss)
        self.test_acc.append(accuracy(pred_test, y_test))
        if pred_train is None:
            for curve in (self.train_acc, self.clean_acc, self.flipped_acc_noisy, self.flipped_acc_true):
                curve.append(NAN)
        else:
            self.train_acc.append(accuracy(pred_train, y))
            self.clean_acc.append(accuracy(pred_train[~flipped], y[~flipped]))
            self.flipped_acc_noisy.append(accuracy(pred_train[flipped], y[flipped]))
            self.flipped_acc_true.append(accuracy(pred_train[flipped], y_true[flipped]))
        self.flipped_grad_share.append(grad_share)
        self.val_acc.append(NAN if pred_val is None else accuracy(pred_val, y_val))
        self.time.append(elapsed)

    def to_frame(self):
        """The per-epoch metrics as a pandas DataFrame indexed by epoch."""
        import pandas as pd

        return pd.DataFrame({m: getattr(self, m) for m in self.METRICS}, index=pd.Index(self.epoch, name="epoch"))

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (for caches)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """Inverse of :meth:`to_dict` (a record stored before a metric existed gets it as NaN)."""
        d = dict(d)
        n = len(d.get("epoch", []))
        for m in cls.METRICS:
            d.setdefault(m, [NAN] * n)
        return cls(**d)
