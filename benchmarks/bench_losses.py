"""Forward + backward time of every loss on one batch, relative to cross entropy.

A batch of logits (128 x 10, float32, requires_grad) and random targets; each loss computes the
batch mean and backpropagates to the logits. Losses are timed round-robin (``repeats`` rounds of
``number`` calls each); the table gives the median microseconds per call and the ratio to CE.

    python benchmarks/bench_losses.py [--batch 128] [--classes 10] [--threads 1]
"""
from __future__ import annotations

import time

import torch

from _common import cli, md_table, median

import nblib
from nblib.losses import LOSSES, make_loss

SEED = 0


def run(batch: int = 128, classes: int = 10, number: int = 200, repeats: int = 7, device: str = "cpu") -> list[dict]:
    g = torch.Generator().manual_seed(SEED)
    logits = torch.randn(batch, classes, generator=g).to(device).requires_grad_(True)
    y = torch.randint(classes, (batch,), generator=g).to(device)
    T = nblib.noise.transition_matrix("symmetric", classes, 0.4)
    fns = {}
    for name in LOSSES:
        kw = {"T": T} if name in ("forward", "backward") else {}
        fns[name] = make_loss(name, classes, **kw).to(device)
    times = {name: [] for name in fns}

    def once(fn):
        logits.grad = None
        fn(logits, y).backward()

    for fn in fns.values():           # warm up
        for _ in range(10):
            once(fn)
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(number):
                once(fn)
            if device != "cpu":
                torch.cuda.synchronize()
            times[name].append((time.perf_counter() - t0) / number)
    ce = median(times["ce"])
    return [dict(loss=name, us=median(t) * 1e6, ratio=median(t) / ce) for name, t in times.items()]


def report(rows) -> str:
    return md_table(["loss", "fwd+bwd per batch (us)", "relative to CE"],
                    [[r["loss"], f"{r['us']:.0f}", f"{r['ratio']:.2f}"] for r in rows])


if __name__ == "__main__":
    a = cli(__doc__, extra=(("--batch", dict(type=int, default=128)), ("--classes", dict(type=int, default=10))))
    print(report(run(a.batch, a.classes, device=a.device)))
