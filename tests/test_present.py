"""The presentation command (tools/present.py) without a server: which lesson, which kernel, which options.
The browser test (tests/e2e/test_present_browser.py) serves a lesson with the same command."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))  # tools/ holds scripts, not a package
import present  # noqa: E402

LESSONS = present.lessons()


def test_a_lesson_is_found_by_number_name_or_path():
    first = LESSONS[1]                           # 01_...
    number = first.name.split("_")[0]
    assert present.find_lesson(number) == first
    assert present.find_lesson(str(int(number))) == first
    assert present.find_lesson(first.stem) == first
    assert present.find_lesson(first.name) == first
    assert present.find_lesson(str(first)) == first


@pytest.mark.parametrize("spec", ["99", "no_such_lesson"])
def test_an_unknown_lesson_is_named_with_the_choices(spec):
    with pytest.raises(present.PresentError, match=f"LESSON '{spec}' names no notebook; the lessons: .*{LESSONS[0].stem}"):
        present.find_lesson(spec)


def test_voila_hides_the_code_behind_a_token_on_localhost():
    cmd = present.voila_command(LESSONS[0], port=8899, token="abc", open_browser=False)
    assert cmd[:4] == [sys.executable, "-m", "voila", str(LESSONS[0])]
    assert {"--strip_sources=True", "--Voila.ip=127.0.0.1", "--token=abc", "--port=8899", "--no-browser"} <= set(cmd)
    assert "--token" in present.voila_command(ROOT / "notebooks")  # generated when not given
    assert present.voila_env({"A": "1"}) == {"A": "1", "JUPYTER_PREFER_ENV_PATH": "1"}


def test_the_lessons_kernel_is_this_python(monkeypatch):
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "1")
    present.check_kernels(LESSONS)


def test_a_kernel_running_another_python_is_refused(tmp_path, monkeypatch):
    spec = tmp_path / "kernels" / "elsewhere"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": ["/opt/other/bin/python", "-m", "ipykernel_launcher",
                                                           "-f", "{connection_file}"],
                                                  "display_name": "other", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    lesson = tmp_path / "lesson.ipynb"
    lesson.write_text(json.dumps({"cells": [], "metadata": {"kernelspec": {"name": "elsewhere"}}}))
    with pytest.raises(present.PresentError, match="'elsewhere' .* runs /opt/other/bin/python, not this"):
        present.check_kernels([lesson])
    lesson.write_text(json.dumps({"cells": [], "metadata": {"kernelspec": {"name": "nowhere"}}}))
    with pytest.raises(present.PresentError, match="no Jupyter kernel named 'nowhere'"):
        present.check_kernels([lesson])
