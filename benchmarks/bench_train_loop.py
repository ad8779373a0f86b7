"""nblib's training loop vs the reference pattern of the official code, same model, data, seed.

Reference: the official APL code's loader settings (HanxunH/Active-Passive-Losses, ``DatasetGenerator``:
``DataLoader(train, batch_size=128, shuffle=True, pin_memory=True, num_workers=4)``, test loader with
batch 256), here over a ``TensorDataset`` of the same in-memory tensors, each batch moved with
``.to(device)``, test accuracy after every epoch. Because its 4 worker processes cost a lot on small
data, the script also times the most favourable variant of the same pattern, ``num_workers=0``
(no worker processes): the honest lower bound of the speed-up.

nblib: ``nblib.fit`` (device-resident tensors, one gather per batch) twice: as the lessons use it,
evaluating the whole training set every epoch for the memorisation curves (*more* work per epoch
than the reference), and with ``eval_train=False``, which like the reference tests only (the same
work). All start from the same ``make_model(..., seed)`` weights,
use Adam (lr 1e-3), plain cross entropy on the same noisy labels (symmetric 40%) and the same
number of epochs. Seeds 0..R-1, one per repeat, interleaved; the ratio is of median wall times.

Each case runs twice: with one torch thread and with all cores (torch's default, what a student's
notebook uses); the DataLoader's worker processes compete with the training thread(s) for cores.

    python benchmarks/bench_train_loop.py [--repeats 3] [--threads-list 1 2]
"""
from __future__ import annotations

import os
import warnings

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from _common import cli, interleaved, md_table, median, setup_threads

import nblib

CASES = {"digits MLP": ("digits", 20), "mnist1d CNN": ("mnist1d", 5)}   # dataset, epochs
BATCH = 128
LR = 1e-3
NOISE = 0.4


OFFICIAL_WORKERS = 4   # APL DatasetGenerator(numOfWorkers=4); its CIFAR configs even use 8
warnings.filterwarnings("ignore", message="This DataLoader will create")   # "4 workers > 2 CPUs": known, intended
EVAL_BATCH = 256       # APL DatasetGenerator(eval_batch_size=256)


def reference_fit(model, data, y_noisy, *, epochs, seed, device="cpu", workers=OFFICIAL_WORKERS):
    """The official code's loop: DataLoader over a TensorDataset, per-batch transfer, eval per epoch."""
    g = torch.Generator().manual_seed(seed)
    pin = torch.device(device).type == "cuda"   # pin_memory=True in the official code; a no-op without CUDA
    train = DataLoader(TensorDataset(data.x_train.cpu(), y_noisy.cpu()), batch_size=BATCH, shuffle=True, generator=g,
                       num_workers=workers, pin_memory=pin)
    test = DataLoader(TensorDataset(data.x_test.cpu(), data.y_test.cpu()), batch_size=EVAL_BATCH, shuffle=False,
                      num_workers=workers, pin_memory=pin)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(epochs):
        model.train()
        for xb, yb in train:
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in test:
                xb, yb = xb.to(device), yb.to(device)
                correct += (model(xb).argmax(1) == yb).sum().item()
        acc = correct / len(test.dataset)
    return acc


THREADS = (1, os.cpu_count())   # one thread, and all cores


def run(repeats: int = 3, device: str = "cpu", threads=THREADS) -> list[dict]:
    rows = []
    for n_threads in dict.fromkeys(threads):
        setup_threads(n_threads)
        rows += _run_cases(repeats, device, n_threads)
    return rows


def _run_cases(repeats: int, device: str, n_threads: int) -> list[dict]:
    rows = []
    for case, (name, epochs) in CASES.items():
        data = nblib.data.load(name, device=device)
        T = nblib.noise.transition_matrix("symmetric", data.num_classes, NOISE)

        def labels(seed):
            return nblib.noise.corrupt_labels(data.y_train, T, seed=seed, exact=True)[0]

        def ref(seed, workers=OFFICIAL_WORKERS):
            model = nblib.models.make_model("auto", data, seed=seed)
            return reference_fit(model, data, labels(seed), epochs=epochs, seed=seed, device=device, workers=workers)

        def ref0(seed):
            return ref(seed, workers=0)

        def fast(seed, eval_train=True):
            model = nblib.models.make_model("auto", data, seed=seed)
            h = nblib.fit(model, data, loss="ce", y_train=labels(seed), epochs=epochs, batch_size=BATCH, lr=LR,
                          seed=seed, progress=False, device=device, eval_train=eval_train)
            return h.final_test_acc

        def lean(seed):
            return fast(seed, eval_train=False)

        fast(0)  # warm up (first-call allocations, lazy imports)
        times = interleaved({"reference": ref, "reference0": ref0, "nblib": fast, "lean": lean}, repeats)
        t = {k: median(v) for k, v in times.items()}
        acc = {k: sum(v) / repeats for k, v in interleaved.out.items()}
        rows.append(dict(case=case, threads=n_threads, epochs=epochs, repeats=repeats, times=t, acc=acc))
    return rows


def report(rows) -> str:
    def ratios(r, base):
        t = r["times"]
        return f"**{t[base] / t['nblib']:.1f}x** / **{t[base] / t['lean']:.1f}x**"

    return md_table(["model", "torch threads", "epochs", "official loader, 4 workers (s)", "same, 0 workers (s)",
                     "nblib.fit (s)", "nblib.fit, eval_train=False (s)", "speed-up vs official (fit / eval_train=False)",
                     "speed-up vs 0 workers (fit / eval_train=False)", "test acc (official / 0 workers / nblib)"],
                    [[r["case"], r["threads"], r["epochs"]]
                     + [f"{r['times'][k]:.2f}" for k in ("reference", "reference0", "nblib", "lean")]
                     + [ratios(r, "reference"), ratios(r, "reference0"),
                        " / ".join(f"{r['acc'][k]:.3f}" for k in ("reference", "reference0", "nblib"))] for r in rows])


if __name__ == "__main__":
    a = cli(__doc__, repeats=3, extra=(("--threads-list", dict(type=int, nargs="+", default=list(THREADS),
                                                            help="thread counts to compare")),))
    print(report(run(a.repeats, a.device, a.threads_list)))
