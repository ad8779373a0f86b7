"""The README's figures, one per lesson, drawn by the notebooks' own code (``make figures``).

For each lesson this runs the notebook's cells in a fresh kernel up to the first cell that calls the
chosen nblib plot function (below), with matplotlib's figure dpi lowered to ``DPI`` just before that
cell, and writes the PNG that cell displays to docs/figures/. So a README figure is exactly what the
notebook shows, from the same nblib call, and it follows the notebook when the notebook changes.

    python tools/readme_figures.py [--only 03 05] [--list]

Each PNG must stay under ``MAX_BYTES`` (it is palette-quantised when larger). Figures whose
notebook does not exist yet are reported and skipped (exit status 1 with --strict).
"""
from __future__ import annotations

import argparse
import base64
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "docs" / "figures"
DPI = 80
MAX_BYTES = 150_000
CELL_TIMEOUT_S = 1800
VERBOSE = False


@dataclass(frozen=True)
class Figure:
    notebook: str       # notebook stem
    call: str           # text of the nblib plot call; the first code cell containing it draws the figure
    caption: str        # one line for the README
    image: int = 0      # which image the cell displays, when it displays several

    @property
    def png(self) -> Path:
        return OUT / f"{self.notebook}.png"


FIGURES = [
    Figure("01_label_noise", "L.figures.memorisation_figure(",
           "Cross entropy's test accuracy rises, peaks and falls as it memorises the flipped labels (3 seeds)."),
    Figure("02_cce_vs_mae_gradients", "L.figures.gradient_share_figure(",
           "Where the gradient goes: cross entropy gives the flipped samples more than their share, MAE less."),
    Figure("03_generalized_cross_entropy", "L.figures.accuracy_vs_q_figure(hard",
           "Accuracy vs q on MNIST-1D: Lq between CE (q -> 0, memorises) and MAE (q = 1, underfits)."),
    Figure("04_normalized_losses_apl", 'seed_curves(noisy.curves("test_acc"',
           "At 40% noise NCE alone leaves clean samples unfitted and fits part of the flipped ones; NCE+RCE does neither "
           "(3 seeds)."),
    Figure("05_loss_correction", "L.figures.curves_figure(",
           "Forward correction with the true T keeps its accuracy; CE and backward correction peak, then fall (3 seeds)."),
    Figure("06_benchmark", "L.figures.overview(main.frame()",
           "Every loss x noise kind x rate on MNIST-1D in one picture, from the course's own stored sweep."),
    Figure("07_real_label_noise", "L.figures.transition_gallery(",
           "CIFAR-10N's human transition matrices beside symmetric and pair noise at the same rate."),
]


def _source(cell) -> str:
    return "".join(cell.source) if isinstance(cell.source, list) else cell.source


def figure_png(fig: Figure) -> bytes:
    """Run ``fig.notebook`` up to its figure cell in a fresh python3 kernel; return that cell's PNG."""
    import nbformat
    from nbclient import NotebookClient

    path = NOTEBOOKS / f"{fig.notebook}.ipynb"
    nb = nbformat.read(path, as_version=4)
    target = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and fig.call in _source(c)), None)
    if target is None:
        raise LookupError(f"{path.name}: no code cell calls {fig.call!r}; update FIGURES in {Path(__file__).name}")
    lower_dpi = nbformat.v4.new_code_cell(
        f"import matplotlib.pyplot as _plt\n_plt.rcParams['figure.dpi'] = {DPI}\n_plt.rcParams['savefig.dpi'] = {DPI}")
    cells = [c for c in nb.cells[:target] if c.cell_type == "code"]
    nb.cells = cells + [lower_dpi, nb.cells[target]]
    for c in nb.cells:
        c.outputs = []
    t0 = time.perf_counter()

    def progress(cell, cell_index, **_):
        if VERBOSE:
            print(f"    {path.stem}: cell {cell_index + 1}/{len(nb.cells)} done at {time.perf_counter() - t0:.0f} s",
                  flush=True)

    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(NOTEBOOKS)}}, on_cell_executed=progress)
    client.execute()
    images = [o["data"]["image/png"] for o in nb.cells[-1].outputs if "image/png" in o.get("data", {})]
    if len(images) <= fig.image:
        raise LookupError(f"{path.name}: the cell calling {fig.call!r} displayed {len(images)} image(s)")
    return base64.b64decode(images[fig.image])


def shrink(png: bytes, limit: int = MAX_BYTES) -> bytes:
    """The PNG as is when under ``limit``, else palette-quantised (figures have few colours)."""
    if len(png) <= limit:
        return png
    from PIL import Image

    for colors in (256, 128, 64):
        buf = io.BytesIO()
        Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=colors).save(buf, format="PNG", optimize=True)
        if buf.tell() <= limit:
            return buf.getvalue()
    raise ValueError(f"figure is {len(png)} bytes even quantised; make it smaller than {limit}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="lesson numbers or notebook stems (default: all)")
    ap.add_argument("--list", action="store_true", help="print the figures and captions, draw nothing")
    ap.add_argument("--strict", action="store_true", help="fail when a figure cannot be drawn")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each executed cell")
    a = ap.parse_args(argv)
    global VERBOSE
    VERBOSE = a.verbose
    chosen = [f for f in FIGURES if not a.only or any(f.notebook.startswith(o) for o in a.only)]
    if a.list:
        for f in chosen:
            print(f"{f.png.relative_to(ROOT)}: {f.notebook} `{f.call}`: {f.caption}")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    failed = []
    for f in chosen:
        if not (NOTEBOOKS / f"{f.notebook}.ipynb").exists():
            print(f"skip {f.notebook}: notebook not there yet")
            failed.append(f.notebook)
            continue
        t0 = time.perf_counter()
        try:
            png = shrink(figure_png(f))
        except Exception as exc:  # noqa: BLE001 - report and go on with the other lessons
            print(f"FAILED {f.notebook}: {type(exc).__name__}: {str(exc)[:500]}")
            failed.append(f.notebook)
            continue
        f.png.write_bytes(png)
        print(f"{f.png.relative_to(ROOT)}: {len(png) / 1000:.0f} kB in {time.perf_counter() - t0:.0f} s "
              f"({f.notebook}: {f.call}...)", flush=True)
    return 1 if (failed and a.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
