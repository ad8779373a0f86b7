"""End to end: every notebook in JupyterLab in a real browser (Debian chromium via playwright).

For each notebooks/*.ipynb, in sequence, on one server and one page:
1. open it, clear its stored outputs (Edit menu) and run all cells (Run menu);
2. wait until the kernel is idle and every code cell has run (polled, no fixed sleeps; bounded);
3. check that no cell shows an error (no error output in the notebook model, no traceback or widget
   rendering error in the page);
4. where the notebook shows sliders, move them with the keyboard (focus the noUi handle, press
   ArrowRight, or ArrowLeft at the end of the range) and check that the widget's output changed
   (an image source or the text of its output);
5. shut its kernel down and close it without saving.
Screenshots go to test-output/e2e/ (after the run, and each slider's widget before/after).
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RUN_TIMEOUT_S = float(os.environ.get("E2E_NOTEBOOK_TIMEOUT", 900))   # one notebook's Run All
SLIDER_TIMEOUT_S = float(os.environ.get("E2E_SLIDER_TIMEOUT", 120))   # one slider move's redraw
MAX_SLIDERS = int(os.environ.get("E2E_MAX_SLIDERS", 4))               # widget cells probed per notebook
KEY_PRESSES = 3
POLL_S = 0.5

SLIDER_HANDLES = ".widget-slider .noUi-handle, .widget-slider .ui-slider-handle"  # ipywidgets 8, 7
WIDGET_ERRORS = re.compile(r"Error displaying widget|Failed to (?:load|render) (?:widget|model)|"
                           r"A Jupyter widget could not be displayed")
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w+(?:Error|Exception): ", re.M)

# --- JavaScript run in the page (window.jupyterapp is exposed by LabApp.expose_app_in_browser) ---
JS_OPEN = """async (path) => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready;
  await panel.sessionContext.ready;
  app.shell.activateById(panel.id);
  window.__nbPanel = panel;
  return panel.id;
}"""

JS_STATE = """() => {
  const panel = window.__nbPanel;
  const kernel = panel.sessionContext.session ? panel.sessionContext.session.kernel : null;
  const cells = panel.content.model.cells;
  let code = 0, done = 0, running = 0, widgets = 0;
  const errors = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    code++;
    if (c.executionCount !== null) done++;
    if (c.executionState === 'running') running++;
    let hasWidget = false;
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j).toJSON();
      if (o.output_type === 'error') errors.push({cell: i, ename: o.ename, evalue: String(o.evalue).slice(0, 300)});
      if (o.data && o.data['application/vnd.jupyter.widget-view+json']) hasWidget = true;
    }
    if (hasWidget) widgets++;
  }
  return {status: kernel ? kernel.status : 'no kernel', code, done, running, errors, widgets};
}"""

JS_CLOSE = """async () => {
  const panel = window.__nbPanel;
  if (!panel || panel.isDisposed) return;
  await panel.sessionContext.shutdown();
  panel.context.model.dirty = false;
  panel.dispose();
  window.__nbPanel = null;
}"""

# the sliders of the current notebook: per cell, its first slider's description, readout, range position
JS_SLIDERS = """(selector) => {
  const panel = window.__nbPanel;
  const cells = Array.from(panel.content.node.querySelectorAll('.jp-Cell'));
  const found = [];
  cells.forEach((cell, i) => {
    const handles = cell.querySelectorAll(selector);
    if (!handles.length) return;
    const slider = handles[0].closest('.widget-slider');
    const label = slider.querySelector('.widget-label');
    const readout = slider.querySelector('.widget-readout');
    found.push({cell: i, count: handles.length, description: label ? label.textContent.trim() : '',
                readout: readout ? (readout.value || readout.textContent || '').trim() : '',
                now: handles[0].getAttribute('aria-valuenow'), max: handles[0].getAttribute('aria-valuemax')});
  });
  return found;
}"""

# what the widget in cell i shows, without its controls: image sources (hashed) and output text
JS_SIGNATURE = """(i) => {
  const cell = window.__nbPanel.content.node.querySelectorAll('.jp-Cell')[i];
  const area = cell.querySelector('.jp-Cell-outputArea') || cell;
  const hash = (s) => { let h = 5381; for (let k = 0; k < s.length; k++) h = ((h * 33) ^ s.charCodeAt(k)) >>> 0; return h.toString(16); };
  const imgs = Array.from(area.querySelectorAll('img')).map(im => hash(im.src) + ':' + im.src.length);
  const clone = area.cloneNode(true);
  clone.querySelectorAll('.widget-slider, .widget-readout, .widget-label, .widget-dropdown, .widget-toggle-buttons, ' +
                         '.widget-checkbox, .widget-radio, .widget-text, select, input, button')
       .forEach(e => e.remove());
  const text = clone.textContent.replace(/\\s+/g, ' ').trim();
  return {imgs, text: text.slice(0, 2000), textHash: hash(text)};
}"""


def _menu(page, top: str, item: str, command: str, used: list) -> None:
    """Click ``top > item`` in JupyterLab's menu bar; fall back to the command when the label moved."""
    try:
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).first.click(timeout=15_000)
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).first.click(timeout=15_000)
        used.append(f"menu {top} > {item}")
    except Exception:  # noqa: BLE001 - any UI miss: use the same command the menu item runs
        page.keyboard.press("Escape")
        page.evaluate("(c) => window.jupyterapp.commands.execute(c)", command)
        used.append(f"command {command}")


def _wait_run_finished(page, timeout: float, record: dict) -> dict:
    """Poll until the kernel is idle and every code cell ran (or an error stopped the run), twice in a row."""
    t0, stable, state = time.monotonic(), 0, {}
    while time.monotonic() - t0 < timeout:
        state = record["state"] = page.evaluate(JS_STATE)
        finished = state["status"] == "idle" and state["running"] == 0 and (
            state["done"] == state["code"] or state["errors"])
        stable = stable + 1 if finished else 0
        if stable >= 2:
            return state
        time.sleep(POLL_S)
    raise TimeoutError(f"run all did not finish within {timeout:.0f} s: {state}")


def _wait_idle(page, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while page.evaluate(JS_STATE)["status"] != "idle":
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"kernel not idle after {timeout:.0f} s")
        time.sleep(POLL_S)


def _dom_errors(page) -> list[str]:
    """Tracebacks in stderr outputs and widget rendering errors visible in the page."""
    found = []
    for text in page.locator('.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts():
        if TRACEBACK.search(text):
            found.append(text.strip()[:400])
    body = page.locator(".jp-Notebook").first.inner_text()
    found += [m.group(0) for m in WIDGET_ERRORS.finditer(body)]
    return found


def _describe_change(before: dict, after: dict) -> str:
    parts = []
    if before["imgs"] != after["imgs"]:
        parts.append(f"image source changed ({len(after['imgs'])} image(s))")
    if before["textHash"] != after["textHash"]:
        new = after["text"].replace(before["text"], "").strip() if before["text"] else after["text"]
        parts.append(f"text changed ({new[:80]!r})" if new else "text changed")
    return "; ".join(parts)


def _move_slider(page, slider: dict, shots: Path, stem: str) -> dict:
    """Move the first slider of cell ``slider['cell']`` by keyboard and wait for its output to change."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(slider["cell"])
    handle = cell.locator(SLIDER_HANDLES).first
    handle.scroll_into_view_if_needed()
    area = cell.locator(".jp-Cell-outputArea")
    area.screenshot(path=str(shots / f"{stem}-before.png"))
    before = page.evaluate(JS_SIGNATURE, slider["cell"])
    at_max = slider["now"] is not None and slider["now"] == slider["max"]
    key = "ArrowLeft" if at_max else "ArrowRight"
    handle.focus()
    t0 = time.monotonic()
    for _ in range(KEY_PRESSES):
        handle.press(key)
    readout_after = page.evaluate(JS_SLIDERS, SLIDER_HANDLES)
    readout_after = next((s["readout"] for s in readout_after if s["cell"] == slider["cell"]), "?")
    changed, after, last, stable = "", before, None, 0
    while time.monotonic() - t0 < SLIDER_TIMEOUT_S:
        idle = page.evaluate(JS_STATE)["status"] == "idle"
        after = page.evaluate(JS_SIGNATURE, slider["cell"])
        settled = idle and after == last and (after["imgs"] or after["text"])
        stable = stable + 1 if settled else 0
        if stable >= 2 and after != before:
            changed = _describe_change(before, after)
            break
        last = after
        time.sleep(POLL_S)
    wait_s = round(time.monotonic() - t0, 1)
    area.screenshot(path=str(shots / f"{stem}-after.png"))
    return {"cell": slider["cell"], "description": slider["description"], "key": f"{KEY_PRESSES} x {key}",
            "readout_before": slider["readout"], "readout_after": readout_after, "changed": changed,
            "wait_s": wait_s}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_jupyterlab(path: Path, lab_page, lab_server, e2e_output, e2e_report):
    page, rel = lab_page, path.relative_to(ROOT).as_posix()
    record = {"name": path.stem, "actions": []}
    e2e_report["notebooks"].append(record)
    t_open = time.monotonic()
    try:
        page.evaluate(JS_OPEN, rel)
        page.wait_for_selector(f".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook", timeout=60_000)
        if page.locator(".jp-Dialog").count():  # e.g. a kernel chooser: take the default
            page.screenshot(path=str(e2e_output / f"{path.stem}-dialog.png"))
            record["actions"].append("dialog: " + page.locator(".jp-Dialog").first.inner_text()[:100])
            page.keyboard.press("Enter")
        _wait_idle(page)
        record["open_s"] = round(time.monotonic() - t_open, 1)

        _menu(page, "Edit", "Clear Outputs of All Cells", "notebook:clear-all-cell-outputs", record["actions"])
        t_run = time.monotonic()
        _menu(page, "Run", "Run All Cells", "notebook:run-all-cells", record["actions"])
        state = _wait_run_finished(page, RUN_TIMEOUT_S, record)
        del record["state"]
        record.update(run_s=round(time.monotonic() - t_run, 1), code_cells=state["code"], executed=state["done"],
                      errors=state["errors"], widget_cells=state["widgets"])
        if state["widgets"]:  # widget views render after the kernel is idle: wait for them
            page.wait_for_selector(".jp-Notebook .jupyter-widgets, .jp-Notebook .widget-box", timeout=60_000)
        page.screenshot(path=str(e2e_output / f"{path.stem}-run.png"))
        record["dom_errors"] = _dom_errors(page)
        assert not state["errors"], f"{path.name}: cells raised errors: {state['errors']}"
        assert state["done"] == state["code"], f"{path.name}: only {state['done']} of {state['code']} code cells ran"
        assert not record["dom_errors"], f"{path.name}: errors shown in the page: {record['dom_errors']}"

        sliders = page.evaluate(JS_SLIDERS, SLIDER_HANDLES)
        record["slider_cells"] = len(sliders)
        record["sliders"] = []
        for k, slider in enumerate(sliders[:MAX_SLIDERS]):
            record["sliders"].append(_move_slider(page, slider, e2e_output, f"{path.stem}-slider{k + 1}"))
        if sliders:
            moved = record["sliders"]
            assert any(s["changed"] for s in moved), f"{path.name}: no slider changed its output: {moved}"
            page.screenshot(path=str(e2e_output / f"{path.stem}-sliders.png"))
            assert not _dom_errors(page), f"{path.name}: errors after moving sliders: {_dom_errors(page)}"
    except BaseException:
        try:
            page.screenshot(path=str(e2e_output / f"{path.stem}-FAILED.png"))
        except Exception:  # noqa: BLE001 - the failure itself is what gets reported
            pass
        raise
    finally:
        record["total_s"] = round(time.monotonic() - t_open, 1)
        try:
            page.evaluate(JS_CLOSE)
        except Exception as exc:  # noqa: BLE001 - the server fixture cleans kernels up anyway
            record["actions"].append(f"close failed: {exc}"[:200])
            lab_server.shutdown_kernels()
