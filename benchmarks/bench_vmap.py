"""Training M small models: one by one, as one vmap stack, and as the engine rule chooses.

Sequential: ``nblib.fit`` once per model. Stack: ``nblib.train.fit_batched`` (one vmapped
forward/backward and one Adam step per batch for all M). Auto: ``nblib.train.fit_many``, which
stacks only where ``stack_pays`` (MLPs on a CPU; never conv nets there), so a multi-model run is
never slower than one by one. Same models (seeds 0..M-1), same noisy labels (symmetric 40%, one
draw per seed), same epochs; interleaved, median of repeats.

    python benchmarks/bench_vmap.py [--repeats 1] [--threads 1] [--sizes 8 32]
"""
from __future__ import annotations

import statistics

from _common import cli, interleaved, md_table, median

import nblib
from nblib.train import fit_batched, fit_many, stack_pays

CASES = {"digits MLP": ("digits", 10), "mnist1d CNN": ("mnist1d", 2)}   # dataset, epochs
NOISE = 0.4


def run(sizes=(8, 32), repeats: int = 1, device: str = "cpu", cases=tuple(CASES)) -> list[dict]:
    rows = []
    for case in cases:
        name, epochs = CASES[case]
        data = nblib.data.load(name, device=device)
        K = data.num_classes
        T = nblib.noise.transition_matrix("symmetric", K, NOISE)
        for M in sizes:
            seeds = list(range(M))
            labels = [nblib.noise.corrupt_labels(data.y_train, T, seed=s, exact=True)[0] for s in seeds]

            def sequential(_):
                accs = []
                for s, y in zip(seeds, labels):
                    model = nblib.models.make_model("auto", data, seed=s)
                    accs.append(nblib.fit(model, data, loss="ce", y_train=y, epochs=epochs, seed=s,
                                          progress=False, device=device).final_test_acc)
                return accs

            def batched(_):
                models = [nblib.models.make_model("auto", data, seed=s) for s in seeds]
                hists, _ = fit_batched(models, data, losses=[nblib.losses.make_loss("ce", K) for _ in seeds],
                                       y_trains=labels, seeds=seeds, epochs=epochs, device=device)
                return [h.final_test_acc for h in hists]

            def auto(_):
                models = [nblib.models.make_model("auto", data, seed=s) for s in seeds]
                hists, _ = fit_many(models, data, losses=["ce"] * M, y_trains=labels, seeds=seeds, epochs=epochs,
                                    progress=False, device=device)
                return [h.final_test_acc for h in hists]

            times = interleaved({"sequential": sequential, "vmap": batched, "auto": auto}, repeats)
            out = interleaved.out
            seq = median(times["sequential"])
            engine = "stack" if stack_pays(nblib.models.make_model("auto", data, seed=0), device) else "one by one"
            rows.append(dict(case=case, models=M, epochs=epochs, seq_s=seq, vmap_s=median(times["vmap"]),
                             auto_s=median(times["auto"]), ratio=seq / median(times["vmap"]),
                             auto_ratio=seq / median(times["auto"]), engine=engine,
                             seq_acc=statistics.mean(out["sequential"][0]), vmap_acc=statistics.mean(out["vmap"][0]),
                             seq_sd=statistics.stdev(out["sequential"][0]), vmap_sd=statistics.stdev(out["vmap"][0])))
    return rows


def report(rows) -> str:
    return md_table(["models", "M", "epochs", "one by one (s)", "stack (s)", "stack vs one by one",
                     "engine rule picks", "fit_many vs one by one", "test acc one by one (mean ± sd)",
                     "test acc stack (mean ± sd)"],
                    [[r["case"], r["models"], r["epochs"], f"{r['seq_s']:.1f}", f"{r['vmap_s']:.1f}",
                      f"{r['ratio']:.2f}x", r["engine"], f"**{r['auto_ratio']:.2f}x**",
                      f"{r['seq_acc']:.3f} ± {r['seq_sd']:.3f}", f"{r['vmap_acc']:.3f} ± {r['vmap_sd']:.3f}"]
                     for r in rows])


if __name__ == "__main__":
    a = cli(__doc__, repeats=1, extra=(("--sizes", dict(type=int, nargs="+", default=[8, 32])),))
    print(report(run(tuple(a.sizes), a.repeats, a.device)))
