"""Fixtures of the browser test: one JupyterLab server, one chromium, one page for all notebooks.

The server runs ``jupyter lab`` from this environment on 127.0.0.1 at a free port with a random
token, with its own settings (no autosave, so the stored notebooks are never rewritten; every cell
in the DOM; no news) and its own runtime, workspace and checkpoint folders (nothing is written
into the repository but test-output/e2e/). It is stopped by its own PID at the end
of the session (terminate, wait, kill), also when a test fails or the run is interrupted.

The browser is Debian's chromium (``/usr/bin/chromium``, or ``$CHROMIUM``) driven by the playwright
Python package; browsers are never downloaded. Without one the tests skip with a message, except
under CI (``CI=true``), where a missing browser is a failure.

Results (what ran, which sliders moved, what changed, how long it took) are collected in
``E2E_REPORT`` and written to test-output/e2e/report.json and printed at the end of the run.
"""
from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "e2e"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
SERVER_START_TIMEOUT_S = float(os.environ.get("E2E_SERVER_TIMEOUT", 240))
SERVER_STOP_TIMEOUT_S = 30
IN_CI = os.environ.get("CI", "").lower() == "true"

# JupyterLab settings for the test server (user_settings_dir): never save (autosave would rewrite the
# stored notebooks with this run's outputs), keep every cell in the DOM, no news/update toasts.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}

E2E_REPORT: dict = {"notebooks": [], "started": time.time()}


def _no_browser(reason: str):
    msg = (f"browser test needs {reason}. Install Debian's chromium (`apt-get install chromium`, or set "
           f"CHROMIUM=/path/to/chromium) and the playwright Python package (`pip install playwright`; no "
           f"browser download is needed).")
    if IN_CI:
        pytest.fail(f"CI=true but {msg}", pytrace=False)
    pytest.skip(msg)


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _no_browser(f"a chromium executable (none at {path})")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A ``jupyter lab`` subprocess; ``stop()`` ends it by its PID (terminate, wait, kill)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        settings = workdir / "settings"
        for rel, value in LAB_SETTINGS.items():
            f = settings / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(value))
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(workdir / "runtime"), PYTHONUNBUFFERED="1")
        env.pop("MPLBACKEND", None)  # the kernel picks the inline backend, as for a user
        jupyter = Path(sys.executable).with_name("jupyter")
        self.cmd = [str(jupyter), "lab", "--no-browser", "--allow-root", f"--port={self.port}",
                    "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={self.token}", "--ServerApp.port_retries=0",
                    f"--ServerApp.root_dir={ROOT}", "--LabApp.expose_app_in_browser=True",
                    f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workdir / 'workspaces'}",
                    f"--FileCheckpoints.root_dir={workdir / 'checkpoints'}"]  # no .ipynb_checkpoints in the repo
        self.log_path = OUTPUT / "jupyter-server.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid

    def api(self, path: str, method: str = "GET", timeout: float = 10):
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
            return json.loads(body) if body else None

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT_S) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + self.log_path.read_text()[-3000:])
            try:
                self.api("/api/status", timeout=5)
                return time.monotonic() - t0
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"jupyter lab did not answer within {timeout:.0f} s; see {self.log_path}")

    def shutdown_kernels(self) -> None:
        """Delete every session (and so its kernel) through the REST API; quiet when the server is gone."""
        try:
            for s in self.api("/api/sessions"):
                self.api(f"/api/sessions/{s['id']}", method="DELETE", timeout=30)
        except OSError:
            pass

    def stop(self) -> None:
        """Stop the server by its own PID: SIGTERM (it shuts its kernels down), wait, then SIGKILL."""
        if self.proc.poll() is None:
            self.shutdown_kernels()
            self.proc.terminate()
            try:
                self.proc.wait(SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(SERVER_STOP_TIMEOUT_S)
        # kernels it started live in the process group we created for it; end any left behind
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def e2e_output() -> Path:
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    return OUTPUT


@pytest.fixture(scope="session")
def e2e_report() -> dict:
    return E2E_REPORT


@pytest.fixture(scope="session")
def browser_path() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _no_browser("the playwright Python package")
    return chromium_path()


@pytest.fixture(scope="session")
def lab_server(browser_path, e2e_output, tmp_path_factory):
    """The running JupyterLab server; stopped by PID at the end, whatever happened."""
    server = LabServer(tmp_path_factory.mktemp("jupyterlab"))
    atexit.register(server.stop)  # also when the session is torn down abnormally
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a killed run still reaches the finally below
    try:
        E2E_REPORT["server_start_s"] = round(server.wait_ready(), 1)
        E2E_REPORT["server_pid"] = server.pid
        yield server
    finally:
        server.stop()
        atexit.unregister(server.stop)
        signal.signal(signal.SIGTERM, previous)
        E2E_REPORT["server_stopped"] = server.proc.poll() is not None


@pytest.fixture(scope="session")
def lab_page(lab_server, browser_path, e2e_output):
    """One chromium page with JupyterLab loaded (the token is passed once, then kept as a cookie)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            console = E2E_REPORT.setdefault("console_errors", [])
            page.on("console", lambda m: console.append(m.text[:300]) if m.type == "error" and len(console) < 50
                    else None)
            t0 = time.monotonic()
            page.goto(f"{lab_server.url}/lab?token={lab_server.token}", wait_until="domcontentloaded",
                      timeout=180_000)
            page.wait_for_function("() => window.jupyterapp !== undefined", timeout=180_000)
            page.evaluate("async () => { await window.jupyterapp.restored; }")
            page.wait_for_selector(".jp-LabShell", timeout=60_000)
            E2E_REPORT["lab_load_s"] = round(time.monotonic() - t0, 1)
            E2E_REPORT["browser"] = f"chromium {browser.version}"
            yield page
        finally:
            browser.close()


def pytest_terminal_summary(terminalreporter):
    if not E2E_REPORT["notebooks"]:
        return
    E2E_REPORT["total_s"] = round(time.time() - E2E_REPORT.pop("started"), 1)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "report.json").write_text(json.dumps(E2E_REPORT, indent=1))
    tr = terminalreporter
    tr.section("browser test: what it saw")
    tr.write_line(f"{E2E_REPORT.get('browser')}, server up in {E2E_REPORT.get('server_start_s')} s, "
                  f"JupyterLab loaded in {E2E_REPORT.get('lab_load_s')} s, total {E2E_REPORT['total_s']} s")
    for nb in E2E_REPORT["notebooks"]:
        if "state" in nb:  # it did not finish
            st = nb["state"]
            tr.write_line(f"{nb['name']}: UNFINISHED after {nb['total_s']} s: {st['done']} of {st['code']} code cells "
                          f"ran, kernel {st['status']}, errors: {st['errors']}")
            continue
        tr.write_line(f"{nb['name']}: {nb.get('code_cells')} code cells run in {nb.get('run_s')} s, "
                      f"errors: {len(nb.get('errors', []))}, widgets: {nb.get('widget_cells', 0)} cells")
        for s in nb.get("sliders", []):
            tr.write_line(f"    slider '{s['description']}' (cell {s['cell']}): {s['readout_before']} -> "
                          f"{s['readout_after']}; {s['changed'] or 'NO CHANGE'} in {s['wait_s']} s")
    tr.write_line(f"screenshots and report: {OUTPUT.relative_to(ROOT)}/")
