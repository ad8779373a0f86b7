"""Fixtures of the browser test: one JupyterLab server, one chromium, one page for all notebooks.

The server runs ``jupyter lab`` from this environment on 127.0.0.1 at a free port with a random
token, with its own settings (no autosave, so the stored notebooks are never rewritten; every cell
in the DOM; no news) and its own runtime, workspace and checkpoint folders (nothing is written
into the repository but test-output/e2e/). It is stopped by its own PID at the end
of the session (terminate, wait, kill), also when a test fails or the run is interrupted. The
presentation test starts a Voila server (``VoilaServer``) the same way and stops it the same way.

The browser is Debian's chromium (``/usr/bin/chromium``, or ``$CHROMIUM``) driven by the playwright
Python package; browsers are never downloaded. Without one the tests skip with a message, except
under CI (``CI=true``), where a missing browser is a failure.

Results (what ran, which sliders moved, what changed, how long it took) are collected in
``E2E_REPORT`` and written to test-output/e2e/report.json and printed at the end of the run.
"""
from __future__ import annotations

import atexit
import contextlib
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

sys.path.insert(0, str(ROOT / "tools"))  # tools/ holds scripts, not a package: the test imports present.py


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


class ServerProcess:
    """A server subprocess on 127.0.0.1 at a free port, with a random token, in its own process group.

    ``start`` runs it with its output in test-output/e2e/<log>; ``stop()`` ends it by its PID
    (terminate, wait, kill) and then its process group (the kernels it started).
    """
    name = "server"

    def __init__(self):
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self, cmd: list[str], env: dict, log: str) -> None:
        self.cmd = cmd
        self.log_path = OUTPUT / log
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.proc.pid

    def ready(self) -> bool:
        """Whether the server answers (here: accepts a connection on its port)."""
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
            return True
        except OSError:
            return False

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT_S) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + self.log_path.read_text()[-3000:])
            if self.ready():
                return time.monotonic() - t0
            time.sleep(0.5)
        raise TimeoutError(f"{self.name} did not answer within {timeout:.0f} s; see {self.log_path}")

    def before_stop(self) -> None:
        """What to do while the server still runs, before it is terminated."""

    def stop(self) -> None:
        """Stop the server by its own PID: SIGTERM (it shuts its kernels down), wait, then SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.before_stop()
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


class LabServer(ServerProcess):
    """``jupyter lab`` with the test's settings, runtime, workspace and checkpoint folders."""
    name = "jupyter lab"

    def __init__(self, workdir: Path):
        super().__init__()
        self.workdir = workdir
        settings = workdir / "settings"
        for rel, value in LAB_SETTINGS.items():
            f = settings / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(value))
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(workdir / "runtime"), PYTHONUNBUFFERED="1")
        env.pop("MPLBACKEND", None)  # the kernel picks the inline backend, as for a user
        jupyter = Path(sys.executable).with_name("jupyter")
        self.start([str(jupyter), "lab", "--no-browser", "--allow-root", f"--port={self.port}",
                    "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={self.token}", "--ServerApp.port_retries=0",
                    f"--ServerApp.root_dir={ROOT}", "--LabApp.expose_app_in_browser=True",
                    f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workdir / 'workspaces'}",
                    f"--FileCheckpoints.root_dir={workdir / 'checkpoints'}"],  # no .ipynb_checkpoints in the repo
                   env, "jupyter-server.log")

    def api(self, path: str, method: str = "GET", timeout: float = 10):
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
            return json.loads(body) if body else None

    def ready(self) -> bool:
        try:
            self.api("/api/status", timeout=5)
            return True
        except OSError:
            return False

    def shutdown_kernels(self) -> None:
        """Delete every session (and so its kernel) through the REST API; quiet when the server is gone."""
        try:
            for s in self.api("/api/sessions"):
                self.api(f"/api/sessions/{s['id']}", method="DELETE", timeout=30)
        except OSError:
            pass

    before_stop = shutdown_kernels


class VoilaServer(ServerProcess):
    """Voila serving one notebook as ``make present`` does (tools/present.py's command and environment)."""
    name = "voila"

    def __init__(self, notebook: Path, workdir: Path):
        super().__init__()
        import present  # tools/present.py

        env = present.voila_env(dict(os.environ, JUPYTER_RUNTIME_DIR=str(workdir / "runtime"), PYTHONUNBUFFERED="1"))
        env.pop("MPLBACKEND", None)
        self.start(present.voila_command(notebook, port=self.port, token=self.token, open_browser=False),
                   env, "voila-server.log")

    def kernels(self) -> list[list[str]]:
        """The command lines of the server's child processes that run an IPython kernel (read in /proc)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                argv = (stat.parent / "cmdline").read_bytes().decode().split("\0")
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if ppid == self.pid and any("ipykernel" in a for a in argv):
                found.append([a for a in argv if a])
        return found


@contextlib.contextmanager
def running(server: ServerProcess):
    """Wait for ``server`` (yield its start time, s); stop it by PID on exit, a failure or SIGTERM."""
    atexit.register(server.stop)  # also when the session is torn down abnormally
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a killed run still reaches the finally below
    try:
        yield server.wait_ready()
    finally:
        server.stop()
        atexit.unregister(server.stop)
        signal.signal(signal.SIGTERM, previous)


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
    try:
        with running(server) as start_s:
            E2E_REPORT["server_start_s"] = round(start_s, 1)
            E2E_REPORT["server_pid"] = server.pid
            yield server
    finally:
        E2E_REPORT["server_stopped"] = server.proc.poll() is not None


@pytest.fixture(scope="module")
def voila_server(request, browser_path, e2e_output, tmp_path_factory):
    """Voila serving the test module's ``PRESENTED_LESSON``; stopped by PID at the end, whatever happened."""
    lesson = request.module.PRESENTED_LESSON
    server = VoilaServer(lesson, tmp_path_factory.mktemp("voila"))
    record = E2E_REPORT["present"] = {"lesson": lesson.stem, "server_pid": server.pid}
    try:
        with running(server) as start_s:
            record["server_start_s"] = round(start_s, 1)
            yield server
    finally:
        record["server_stopped"] = server.proc.poll() is not None


@pytest.fixture(scope="session")
def browser(browser_path):
    """One headless chromium for the session (playwright's sync API allows one per thread)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS, headless=True)
        try:
            E2E_REPORT["browser"] = f"chromium {chromium.version}"
            yield chromium
        finally:
            chromium.close()


def new_page(browser):
    """A page of the test's size whose console errors (the first 50) go to the report."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    console = E2E_REPORT.setdefault("console_errors", [])
    page.on("console", lambda m: console.append(m.text[:300]) if m.type == "error" and len(console) < 50
            else None)
    return page


@pytest.fixture
def fresh_page(browser):
    """A new page for one test, closed after it."""
    page = new_page(browser)
    yield page
    page.close()


@pytest.fixture(scope="session")
def lab_page(lab_server, browser, e2e_output):
    """One chromium page with JupyterLab loaded (the token is passed once, then kept as a cookie)."""
    page = new_page(browser)
    try:
        t0 = time.monotonic()
        page.goto(f"{lab_server.url}/lab?token={lab_server.token}", wait_until="domcontentloaded",
                  timeout=180_000)
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=180_000)
        page.evaluate("async () => { await window.jupyterapp.restored; }")
        page.wait_for_selector(".jp-LabShell", timeout=60_000)
        E2E_REPORT["lab_load_s"] = round(time.monotonic() - t0, 1)
        yield page
    finally:
        page.close()


def pytest_terminal_summary(terminalreporter):
    present = E2E_REPORT.get("present")
    if not (E2E_REPORT["notebooks"] or present):
        return
    E2E_REPORT["total_s"] = round(time.time() - E2E_REPORT.pop("started"), 1)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "report.json").write_text(json.dumps(E2E_REPORT, indent=1))
    tr = terminalreporter
    tr.section("browser test: what it saw")
    tr.write_line(f"{E2E_REPORT.get('browser')}, total {E2E_REPORT['total_s']} s")
    if present:
        tr.write_line(f"present (Voila) {present['lesson']}: server up in {present.get('server_start_s')} s, first "
                      f"cell shown in {present.get('first_cell_s')} s, whole page with its sliders in "
                      f"{present.get('rendered_s')} s; code shown: {present.get('code_shown')}; kernel: "
                      f"{present.get('kernel')}")
        for stall in present.get("stalls", []):
            tr.write_line(f"    stall (a first one gets a fresh page): {stall}")
        s = present.get("slider")
        if s:
            tr.write_line(f"    slider '{s['description']}': {s['readout_before']} -> {s['readout_after']}; "
                          f"{s['changed'] or 'NO CHANGE'} in {s['wait_s']} s")
    if E2E_REPORT["notebooks"]:
        tr.write_line(f"JupyterLab: server up in {E2E_REPORT.get('server_start_s')} s, "
                      f"loaded in {E2E_REPORT.get('lab_load_s')} s")
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
