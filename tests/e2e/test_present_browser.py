"""End to end: the presentation view (``make present``): one lesson in Voila, in a real browser.

1. start Voila on ``PRESENTED_LESSON`` with tools/present.py's command and environment;
2. open it and wait until every cell is on the page and the sliders are live (Voila runs the
   lesson, its training included, when the page opens; polled, bounded);
3. check that no code is shown: no code cell has an input area, and no line of the lesson's code
   is in the page's text; and that no cell shows an error;
4. check that the kernel is this environment's Python (the server's child process, in /proc);
5. move the first slider with the keyboard and check that its figure (an image source) changes.
Screenshots go to test-output/e2e/present-*.png; the server is stopped by its PID at the end.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from test_lab_browser import KEY_PRESSES, POLL_S, SLIDER_HANDLES, SLIDER_TIMEOUT_S, TRACEBACK, WIDGET_ERRORS

ROOT = Path(__file__).resolve().parents[2]
PRESENTED_LESSON = ROOT / "notebooks" / "05_loss_correction.ipynb"  # a lesson with sliders (~45 s in Voila)
RENDER_TIMEOUT_S = float(os.environ.get("E2E_PRESENT_TIMEOUT", 300))  # the whole lesson run by Voila (~50 s)
# Voila 0.5 can stall a page for good at a widget cell while the machine is loaded (seen once in CI:
# 8 of 47 cells after 600 s; upstream: voila-dashboards/voila#1395, #1428). A stalled page gets one
# fresh page (a new kernel); the stall is recorded in the report, and a second stall fails the test.
RENDER_ATTEMPTS = 2
MIN_CODE_LINE = 12  # shorter code lines ("plt.show()") may well appear in the prose

# how far the page is: cells shown, slider handles, whether Voila's "Executing i of n" is still there
JS_PROGRESS = """(selector) => ({
  cells: document.querySelectorAll('.jp-Cell').length,
  handles: document.querySelectorAll(selector).length,
  loading: !!document.querySelector('#loading_text, #loading'),
})"""

# code visible on the page: code cells with an input area or an editor, and code cells not marked noInput
JS_CODE_SHOWN = """() => ({
  inputs: document.querySelectorAll('.jp-CodeCell .jp-InputArea, .jp-CodeCell .jp-Editor, .cm-editor').length,
  unmarked: Array.from(document.querySelectorAll('.jp-CodeCell')).filter(c => !c.classList.contains('jp-mod-noInput')).length,
})"""

# the first slider: its cell's figure (image sources, hashed), description and readout
JS_FIRST_SLIDER = """(selector) => {
  const handle = document.querySelector(selector);
  const slider = handle.closest('.widget-slider');
  const cell = handle.closest('.jp-Cell');
  const hash = (s) => { let h = 5381; for (let k = 0; k < s.length; k++) h = ((h * 33) ^ s.charCodeAt(k)) >>> 0; return h.toString(16); };
  const readout = slider.querySelector('.widget-readout');
  const label = slider.querySelector('.widget-label');
  return {imgs: Array.from(cell.querySelectorAll('img')).map(im => hash(im.src) + ':' + im.src.length),
          description: label ? label.textContent.trim() : '',
          readout: readout ? (readout.value || readout.textContent || '').trim() : '',
          atMax: handle.getAttribute('aria-valuenow') === handle.getAttribute('aria-valuemax')};
}"""


def code_lines(nb: dict) -> set[str]:
    """The lesson's code lines that a page without code must not show (none that the prose quotes)."""
    def text(cell):
        return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    prose = "\n".join(text(c) for c in nb["cells"] if c["cell_type"] != "code")
    lines = {line.strip() for c in nb["cells"] if c["cell_type"] == "code" for line in text(c).splitlines()}
    return {line for line in lines if len(line) >= MIN_CODE_LINE and line not in prose}


def _wait_rendered(page, cells: int, record: dict) -> None:
    """Poll until all ``cells`` are on the page, Voila's progress text is gone and a slider is there."""
    t0, state = time.monotonic(), {}
    while time.monotonic() - t0 < RENDER_TIMEOUT_S:
        state = page.evaluate(JS_PROGRESS, SLIDER_HANDLES)
        if state["cells"] and "first_cell_s" not in record:
            record["first_cell_s"] = round(time.monotonic() - t0, 1)
        if state["cells"] >= cells and not state["loading"] and state["handles"]:
            record["rendered_s"] = round(time.monotonic() - t0, 1)
            return
        time.sleep(POLL_S)
    raise TimeoutError(f"Voila did not render {PRESENTED_LESSON.name} within {RENDER_TIMEOUT_S:.0f} s: {state}")


def _move_first_slider(page, shots: Path) -> dict:
    """Move the first slider by keyboard; wait until its cell's figure changed and settled."""
    handle = page.locator(SLIDER_HANDLES).first
    handle.scroll_into_view_if_needed()
    cell = handle.locator("xpath=ancestor::div[contains(@class, 'jp-Cell ')][1]")
    cell.screenshot(path=str(shots / "present-slider-before.png"))
    before = page.evaluate(JS_FIRST_SLIDER, SLIDER_HANDLES)
    key = "ArrowLeft" if before["atMax"] else "ArrowRight"
    handle.focus()
    t0 = time.monotonic()
    for _ in range(KEY_PRESSES):
        handle.press(key)
    after, last, stable = before, None, 0
    while time.monotonic() - t0 < SLIDER_TIMEOUT_S:
        after = page.evaluate(JS_FIRST_SLIDER, SLIDER_HANDLES)
        stable = stable + 1 if after["imgs"] and after["imgs"] == last else 0
        if stable >= 2 and after["imgs"] != before["imgs"]:
            break
        last = after["imgs"]
        time.sleep(POLL_S)
    cell.screenshot(path=str(shots / "present-slider-after.png"))
    changed = after["imgs"] != before["imgs"]
    return {"description": before["description"], "key": f"{KEY_PRESSES} x {key}", "readout_before": before["readout"],
            "readout_after": after["readout"], "wait_s": round(time.monotonic() - t0, 1),
            "changed": f"image source changed ({len(after['imgs'])} image(s))" if changed else ""}


def test_a_lesson_is_presented_without_code_and_with_live_sliders(voila_server, fresh_page, e2e_output, e2e_report):
    page, record = fresh_page, e2e_report["present"]
    nb = json.loads(PRESENTED_LESSON.read_text(encoding="utf-8"))
    try:
        for attempt in range(1, RENDER_ATTEMPTS + 1):
            page.goto(f"{voila_server.url}/?token={voila_server.token}", wait_until="commit", timeout=120_000)
            try:
                _wait_rendered(page, len(nb["cells"]), record)
                break
            except TimeoutError as stall:
                record.setdefault("stalls", []).append(str(stall))
                record.pop("first_cell_s", None)
                if attempt == RENDER_ATTEMPTS:
                    raise
        page.screenshot(path=str(e2e_output / "present-page.png"))

        body = page.inner_text("body")
        errors = [m.group(0) for m in TRACEBACK.finditer(body)] + [m.group(0) for m in WIDGET_ERRORS.finditer(body)]
        assert not errors, f"{PRESENTED_LESSON.name}: errors shown in the presentation: {errors}"
        shown = page.evaluate(JS_CODE_SHOWN)
        lines = sorted(line for line in code_lines(nb) if line in body)
        record["code_shown"] = shown["inputs"] + shown["unmarked"] + len(lines)
        assert shown == {"inputs": 0, "unmarked": 0}, f"code cells shown with their input: {shown}"
        assert not lines, f"code shown on the page: {lines[:5]}"

        kernels = voila_server.kernels()
        record["kernel"] = kernels[0][0] if kernels else None
        assert kernels, "no kernel process under the Voila server"
        assert all(argv[0] == sys.executable for argv in kernels), f"not this environment's Python: {kernels}"

        record["slider"] = slider = _move_first_slider(page, e2e_output)
        assert slider["changed"], f"moving slider '{slider['description']}' did not change its figure: {slider}"
        assert not TRACEBACK.search(page.inner_text("body")), "an error appeared after the slider moved"
    except BaseException:
        page.screenshot(path=str(e2e_output / "present-FAILED.png"))
        raise
