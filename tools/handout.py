"""Write the student version of every lesson (``make handouts``): the solutions taken out.

The course writes each exercise's solution in a markdown cell as a ``<details>`` block, right after
the exercise's code cell (``<details><summary>Solution</summary> ... </details>``), often followed by
the next exercise's text in the same cell. A handout is the lesson with:

- every ``<details>`` block of every markdown cell removed (by the course's convention such a block
  holds a solution); a cell that held nothing else is dropped, the rest of a cell is kept as it was;
- every code cell kept, exercise cells with their placeholders (``...`` or ``None``) and checks: a
  student runs the lesson top to bottom and each check prints its "No answer yet" reminder;
- the outputs cleared (outputs, execution counts and timings, the stored widget state), or kept
  with ``--keep-outputs`` (the stored lessons are run with the placeholders, so their outputs show
  no answer; a kept output in which a check says "Correct!" is refused, since it gives the answer
  away).

Everything else (cell ids, metadata, the Colab cell) is left alone, and the JSON is written in
nbformat's layout, so the handout of a handout is the same file.

    python tools/handout.py --out handouts/ [--keep-outputs] [notebooks/NN_name.ipynb ...]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "handouts"
DETAILS_TAG = re.compile(r"<(/?)details\b[^>]*>", re.IGNORECASE)
SOLVED = "Correct! "  # how nblib.course.feedback's verdict() starts for a right answer (it then explains it)
WIDGET_STATE = "widgets"  # notebook metadata: the state of the widget views in the outputs


class HandoutError(ValueError):
    """A lesson that cannot be turned into a handout (the message names the notebook and cell)."""


@dataclass
class Made:
    """What ``make_handout`` did to one notebook."""
    solutions: int = 0      # <details> blocks removed
    dropped: int = 0        # markdown cells that held only solutions


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def details_spans(text: str, where: str = "markdown") -> list[tuple[int, int]]:
    """The (start, end) of each outermost ``<details> ... </details>`` block in ``text``.

    Nested blocks belong to the outer one. An unclosed ``<details>`` or a stray ``</details>`` is a
    HandoutError naming ``where``: cutting at a guess could leave half a solution in the handout.
    """
    spans, depth, start = [], 0, 0
    for m in DETAILS_TAG.finditer(text):
        if not m.group(1):
            if depth == 0:
                start = m.start()
            depth += 1
        elif depth == 0:
            raise HandoutError(f"{where}: '{m.group(0)}' without an opening <details>")
        else:
            depth -= 1
            if depth == 0:
                spans.append((start, m.end()))
    if depth:
        raise HandoutError(f"{where}: a <details> block is never closed (no </details> after it)")
    return spans


def strip_details(text: str, where: str = "markdown") -> tuple[str, int]:
    """``text`` without its ``<details>`` blocks, and how many there were.

    Only the seams change: the blank lines around a removed block become one blank line (none at the
    start or end of the cell). Text without a block comes back unchanged.
    """
    spans = details_spans(text, where)
    if not spans:
        return text, 0
    bounds = [0] + [i for span in spans for i in span] + [len(text)]
    pieces = [text[a:b] for a, b in zip(bounds[::2], bounds[1::2])]
    pieces = [p if k == 0 else p.lstrip() for k, p in enumerate(pieces)]
    pieces = [p if k == len(pieces) - 1 else p.rstrip() for k, p in enumerate(pieces)]
    return "\n\n".join(p for p in pieces if p.strip()), len(spans)


def clear_outputs(nb: dict) -> None:
    """Clear every code cell's outputs, execution count and timing, and the stored widget state."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            cell.get("metadata", {}).pop("execution", None)
    nb.get("metadata", {}).pop(WIDGET_STATE, None)


def output_text(output: dict) -> str:
    """The printed text of one output: a stream's text or a result's text/plain."""
    parts = (output.get("text", ""), output.get("data", {}).get("text/plain", ""))
    return "".join("".join(p) if isinstance(p, list) else p for p in parts)


def _check_no_verdicts(nb: dict, name: str) -> None:
    """Refuse kept outputs in which an exercise check says "Correct!" (its text explains the answer)."""
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            if SOLVED in output_text(out):
                raise HandoutError(f"{name}, cell {i}: a kept output shows an answered exercise ({SOLVED.strip()!r}); "
                                   "re-run the lesson with its placeholders, or leave out --keep-outputs")


def make_handout(nb: dict, name: str = "notebook", keep_outputs: bool = False) -> Made:
    """Turn the notebook dict ``nb`` into its handout in place; say what was removed."""
    made, cells = Made(), []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            text, removed = strip_details(_source(cell), f"{name}, cell {i}")
            if removed:
                made.solutions += removed
                if not text.strip():
                    made.dropped += 1
                    continue
                cell["source"] = text.splitlines(keepends=True)  # nbformat's layout: a list of lines
        cells.append(cell)
    nb["cells"] = cells
    if keep_outputs:
        _check_no_verdicts(nb, name)
    else:
        clear_outputs(nb)
    return made


def dumps(nb: dict) -> str:
    """The notebook as nbformat writes it: indent 1, keys sorted, non-ASCII kept, trailing newline."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_handouts(paths: list[Path], out: Path, keep_outputs: bool = False) -> dict[Path, Made]:
    """Write ``out/<name>`` for each notebook of ``paths``; return what each lost, by output path."""
    out = Path(out)
    for path in paths:
        if not path.is_file():
            raise HandoutError(f"notebook {path} does not exist")
        if out.resolve() == path.resolve().parent:
            raise HandoutError(f"--out {out} is the folder of {path.name}: the handouts would overwrite the "
                               "lessons; choose another folder (default: handouts/)")
    out.mkdir(parents=True, exist_ok=True)
    done = {}
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        made = make_handout(nb, path.name, keep_outputs)
        dest = out / path.name
        dest.write_text(dumps(nb), encoding="utf-8")
        done[dest] = made
    return done


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the handouts (default: handouts/)")
    ap.add_argument("--keep-outputs", action="store_true", help="keep the stored outputs (default: cleared)")
    a = ap.parse_args(argv)
    paths = a.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        ap.error(f"no notebooks given and none in {NOTEBOOKS}")
    try:
        done = write_handouts(paths, a.out, a.keep_outputs)
    except HandoutError as exc:
        print(f"handout: {exc}", file=sys.stderr)
        return 2
    outputs = "kept" if a.keep_outputs else "cleared"
    for dest, made in done.items():
        print(f"{dest}: {made.solutions} solution(s) removed ({made.dropped} cell(s) held nothing else), "
              f"outputs {outputs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
