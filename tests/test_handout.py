"""Student handouts (tools/handout.py): no solution left, everything else kept, and they still run.

The expectations are computed here independently of the tool (a plain regex over the stored
lessons), for every notebooks/*.ipynb. One handout, ``EXECUTED_LESSON``, is also executed top to
bottom in a fresh kernel of this environment (as ``make notebooks`` does), with its placeholders.
"""
from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
EXECUTED_LESSON = "06_benchmark"   # the cheapest lesson with exercise checks (~10 s to execute)
CELL_TIMEOUT_S = 600
SOLUTION_BLOCK = re.compile(r"<details\b.*?</details>", re.IGNORECASE | re.DOTALL)
MIN_SOLUTION_LINE = 12             # shorter lines ("```python", "</details>") are no solution text
EXERCISE_CHECK = re.compile(r"\bcheck_\w+\(")  # a code cell that calls a lesson's exercise check

sys.path.insert(0, str(ROOT / "tools"))  # tools/ holds scripts, not a package
import handout  # noqa: E402

from nblib.course.feedback import NO_ANSWER  # noqa: E402


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def student_text(cell) -> str:
    """A markdown cell as the handout should have it: its solution blocks gone (whitespace aside)."""
    return squash(SOLUTION_BLOCK.sub(" ", source(cell)))


def solution_lines(nb: dict) -> set[str]:
    """The lines of the notebook's solutions that appear nowhere else in it."""
    outside = "\n".join(SOLUTION_BLOCK.sub("", source(c)) for c in nb["cells"])
    lines = {line.strip() for c in nb["cells"] for block in SOLUTION_BLOCK.findall(source(c))
             for line in block.splitlines()}
    return {line for line in lines if len(line) >= MIN_SOLUTION_LINE and line not in outside}


@pytest.fixture(scope="module")
def handouts(tmp_path_factory) -> dict[bool, Path]:
    """The handouts of every lesson, with outputs cleared (False) and kept (True)."""
    out = {}
    for keep in (False, True):
        out[keep] = tmp_path_factory.mktemp(f"handouts-keep{keep}")
        handout.write_handouts(NOTEBOOKS, out[keep], keep_outputs=keep)
    return out


def test_the_lessons_have_solutions_to_remove():
    assert any(solution_lines(load(p)) for p in NOTEBOOKS), "no <details> solution found in any lesson"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_solution_text_is_left(path, handouts):
    original, text = load(path), (handouts[False] / path.name).read_text(encoding="utf-8")
    assert not re.search(r"</?details\b", text, re.IGNORECASE), f"{path.name}: a <details> tag is left"
    left = sorted(line for line in solution_lines(original) if line in text)
    assert not left, f"{path.name}: solution lines left in the handout: {left}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_everything_else_is_kept_and_outputs_are_cleared(path, handouts):
    original, student = load(path), load(handouts[False] / path.name)
    kept = [c for c in original["cells"] if c["cell_type"] != "markdown" or student_text(c)]
    solution_only = len(original["cells"]) - len(kept)
    assert len(student["cells"]) == len(original["cells"]) - solution_only
    assert [c.get("id") for c in student["cells"]] == [c.get("id") for c in kept]
    for before, after in zip(kept, student["cells"]):
        if before["cell_type"] == "markdown":
            assert squash(source(after)) == student_text(before)
            if not SOLUTION_BLOCK.search(source(before)):
                assert after == before, "a cell without a solution must be left byte for byte"
        elif before["cell_type"] == "code":
            assert source(after) == source(before), "exercise and other code cells are kept as they are"
            assert after["outputs"] == [] and after["execution_count"] is None
            assert "execution" not in after["metadata"]
        else:
            assert after == before
    metadata = {k: v for k, v in original["metadata"].items() if k != "widgets"}  # the views' state goes
    assert {**student, "cells": None} == {**original, "cells": None, "metadata": metadata}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_keep_outputs_keeps_code_cells_whole(path, handouts):
    original, student = load(path), load(handouts[True] / path.name)
    code = [c for c in original["cells"] if c["cell_type"] == "code"]
    assert code == [c for c in student["cells"] if c["cell_type"] == "code"]
    assert student["metadata"] == original["metadata"]
    assert not any(handout.SOLVED in handout.output_text(o) for c in code for o in c.get("outputs", []))


def test_a_handout_of_a_handout_is_the_same_file(handouts, tmp_path):
    for keep, folder in handouts.items():
        again = handout.write_handouts(sorted(folder.glob("*.ipynb")), tmp_path / str(keep), keep_outputs=keep)
        assert not any(made.solutions for made in again.values())
        for dest in again:
            assert dest.read_bytes() == (folder / dest.name).read_bytes(), f"{dest.name} changed on a second pass"


def test_seams_and_nesting():
    text = "Ex 1.\n\n<details><summary>Solution</summary>\n\nA <details>inner</details> B\n</details>\n\n\n**Ex 2.** next"
    assert handout.strip_details(text) == ("Ex 1.\n\n**Ex 2.** next", 1)
    assert handout.strip_details("<DETAILS open>x</Details>\n") == ("", 1)
    assert handout.strip_details("no solution  \n") == ("no solution  \n", 0)


@pytest.mark.parametrize("text, says", [("<details>open", "never closed"),
                                        ("a</details>", "without an opening <details>")])
def test_a_broken_block_is_an_error_naming_the_cell(text, says):
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": [text]}], "metadata": {}}
    with pytest.raises(handout.HandoutError, match=f"lesson.ipynb, cell 0: .*{says}"):
        handout.make_handout(nb, "lesson.ipynb")


def test_kept_outputs_that_show_an_answer_are_refused():
    cell = {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": ["ex.check(0.54)"],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["Correct! 0.6 * 9/10\n"]}]}
    nb = {"cells": [cell], "metadata": {}}
    with pytest.raises(handout.HandoutError, match="x.ipynb, cell 0: .*--keep-outputs"):
        handout.make_handout(copy.deepcopy(nb), "x.ipynb", keep_outputs=True)
    handout.make_handout(nb, "x.ipynb")  # cleared: nothing to give away
    assert cell["outputs"] == []


def test_bad_arguments_are_named(tmp_path, capsys):
    assert handout.main(["--out", str(ROOT / "notebooks"), str(NOTEBOOKS[0])]) == 2
    assert "--out" in capsys.readouterr().err
    missing = tmp_path / "99_missing.ipynb"
    assert handout.main(["--out", str(tmp_path / "out"), str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


@pytest.mark.slow
def test_a_handout_still_executes_with_its_placeholders(tmp_path):
    """Executed in a fresh kernel of this environment; every exercise check prints its reminder."""
    from jupyter_client import KernelManager
    from nbclient import NotebookClient
    from nbformat import reads
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

    lesson = ROOT / "notebooks" / f"{EXECUTED_LESSON}.ipynb"
    (dest, _), = handout.write_handouts([lesson], tmp_path).items()
    nb = reads(dest.read_text(encoding="utf-8"), as_version=4)
    checks = [c for c in nb.cells if c.cell_type == "code" and EXERCISE_CHECK.search(c.source)]
    assert checks, f"{EXECUTED_LESSON} has no exercise check: choose another EXECUTED_LESSON"
    km = KernelManager(kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager())
    NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    for cell in checks:
        printed = "".join(handout.output_text(o) for o in cell.outputs)
        assert NO_ANSWER in printed, f"a placeholder check did not print its reminder: {cell.source!r} -> {printed!r}"
