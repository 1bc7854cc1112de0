"""A real Voila server on loopback and a real headless Chromium, for browser tests and benchmarks.

Chromium is Debian's (/usr/bin/chromium) driven by the PyPI playwright package: Playwright's own
browser download does not work on this kind of machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import psutil
from jupyter_core.paths import jupyter_runtime_dir

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# JavaScript run in the page: how many dark pixels the visible panel's figure canvas holds (an
# ipympl canvas is blank until its first image arrives), a fingerprint of its current image, and
# the visible panel's status line. Panels in hidden tabs have no offsetParent.
VISIBLE_CANVAS_JS = """[...document.querySelectorAll('.jupyter-matplotlib-canvas-div canvas')]
  .find(c => c.offsetParent !== null)"""
VISIBLE_STATUS_JS = """() => ([...document.querySelectorAll('.ge-status [role=status]')]
  .find(s => s.offsetParent !== null) || {textContent: ''}).textContent"""
VISIBLE_READOUT_JS = """() => ([...document.querySelectorAll('.ge-readout')]
  .find(s => s.offsetParent !== null) || {textContent: ''}).textContent"""
DARK_PIXELS_JS = f"""() => {{
  const canvas = {VISIBLE_CANVAS_JS};
  if (!canvas || !canvas.width) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let dark = 0;
  for (let i = 0; i < data.length; i += 4) {{
    if (data[i + 3] > 0 && data[i] + data[i + 1] + data[i + 2] < 200) dark++;
  }}
  return dark;
}}"""
CANVAS_URL_JS = f"""() => {{
  const canvas = {VISIBLE_CANVAS_JS};
  return canvas ? canvas.toDataURL() : '';
}}"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serve(
    command: list[str],
    cwd: Path,
    port: int,
    name: str,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> Iterator[None]:
    """Run a server ``command`` in its own process group until it listens on ``port``; stop it
    (and the kernels it started) afterwards. ``env`` adds to the environment; ``log_path``, if
    given, receives the server's output (else a temporary file does)."""
    env = {**os.environ, **(env or {}), "EXPLORER_PORT": str(port)}
    # a file, not a pipe: a pipe nobody reads could stall the server; closed below
    log = open(log_path, "w+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"{name} exited: {log.read().decode()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} did not start listening within 60 s") from None
                time.sleep(0.2)
        yield
    finally:
        # the log is closed even when the server is gone (an unclosed file would be reported
        # as an unraisable ResourceWarning in whichever test runs next), and a server that
        # exited by itself keeps its own error (killpg would raise ProcessLookupError over it)
        try:
            stop_group(process, timeout_s=15)  # the server and the kernels it started
        finally:
            log.close()


def stop_group(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Stop ``process``'s process group: SIGTERM, then SIGKILL after ``timeout_s``. A process
    that exited by itself keeps its own status (killpg would raise ProcessLookupError)."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def voila_server(
    extra_args: tuple[str, ...] = (),
    *,
    env: dict[str, str] | None = None,
    notebook: str = "notebooks/explorer.ipynb",
    log_path: Path | None = None,
) -> Iterator[str]:
    """Serve ``notebook`` (a path from the repository root) as `make serve` does: the
    ``explorer-serve`` command next to the test interpreter, with the repository's voila.py.
    ``env`` adds EXPLORER_* settings; ``log_path`` keeps the server's log. Yield the page's URL."""
    port = _free_port()
    command = [str(Path(sys.executable).with_name("explorer-serve")), notebook, *extra_args]
    with _serve(command, REPO, port, "voila", env=env, log_path=log_path):
        yield f"http://127.0.0.1:{port}/"


@dataclass(frozen=True)
class Served:
    """A running ``explorer-serve``: its page's URL and its log file."""

    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def served_with_log(folder: Path, env: dict[str, str]) -> Iterator[Served]:
    """``voila_server`` with ``env``, its log kept in ``folder``/server.log."""
    log = folder / "server.log"
    with voila_server(env=env, log_path=log) as url:
        yield Served(url, log)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, error statuses included."""

    status: int
    headers: Message
    body: str


def fetch(url: str, timeout: float = 120) -> Reply:
    """GET ``url``; an HTTP error status is an answer too, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return Reply(answer.status, answer.headers, answer.read().decode())
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read().decode())


def kernel_id_of(html: str) -> str:
    """The kernel id Voila writes into the page it serves."""
    found = re.search(r'"kernelId": "([0-9a-f-]{36})"', html)
    assert found, "the served page names its kernel"
    return found.group(1)


def kernel_alive(url: str, kernel_id: str) -> bool:
    """Whether the server still has the kernel (``GET /api/kernels/<id>``: 200, or 404)."""
    status = fetch(f"{url}api/kernels/{kernel_id}", timeout=30).status
    assert status in (200, 404), status
    return status == 200


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    """Poll ``condition`` until it holds; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.5)


@contextmanager
def jupyterlab_server(folder: Path) -> Iterator[str]:
    """JupyterLab on loopback serving ``folder``, without a token (a test's own temporary
    folder); yield its URL."""
    port = _free_port()
    lab = Path(sys.executable).with_name("jupyter-lab")
    command = [
        str(lab),
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with _serve(command, folder, port, "jupyter lab"):
        yield f"http://127.0.0.1:{port}/"


VIEWPORT = {"width": 1400, "height": 1000}


def wait_for_status(page, text: str, timeout_ms: int = 20_000) -> str:
    """Wait until the visible panel's status line contains ``text``; return the line."""
    page.wait_for_function(f"({VISIBLE_STATUS_JS})().includes({text!r})", timeout=timeout_ms)
    return page.evaluate(VISIBLE_STATUS_JS)


def number_control(page, label: str):
    """The visible exact number control labelled ``label`` (explorer/panels/number.py)."""
    return page.locator(f".ge-number:has(label:text-is('{label}')) >> visible=true")


def slider_of(page, label: str):
    """The range input of the visible number control ``label``: focus it and press arrows."""
    return number_control(page, label).locator("input[type=range]")


def box_of(page, label: str):
    """The box of the visible number control ``label``: it shows the exact value."""
    return number_control(page, label).locator("input.ge-number-box")


def type_into_slider(page, label: str, text: str) -> None:
    """Type ``text`` into the box of the visible number control ``label``, as a user does: click,
    select all, type, Enter."""
    box = box_of(page, label)
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def enter_value(page, label: str, text: str, shown: str | None = None) -> None:
    """Type ``text`` into number control ``label`` and wait until its box shows ``shown`` (by
    default the text itself, stripped)."""
    type_into_slider(page, label, text)
    wait_for_box(page, label, text.strip() if shown is None else shown)


def wait_for_box(page, label: str, text: str, timeout_ms: int = 20_000) -> None:
    """Wait until the box of number control ``label`` shows exactly ``text``."""
    page.wait_for_function(
        """([label, text]) => [...document.querySelectorAll('.ge-number')]
             .filter(c => c.offsetParent !== null && c.querySelector('label').textContent === label)
             .some(c => c.querySelector('.ge-number-box').value === text)""",
        arg=[label, text],
        timeout=timeout_ms,
    )


def open_tab(page, title: str, timeout_ms: int = 30_000) -> None:
    """Select the App's tab ``title`` and wait until its figure shows real pixels."""
    page.locator(".lm-TabBar-tab", has_text=title).click()
    page.wait_for_function(f"({DARK_PIXELS_JS})() > 2000", timeout=timeout_ms, polling=100)


def open_app(browser, url: str, timeout_ms: int = 90_000):
    """Open the served app in a new page of ``browser`` (a Browser or a BrowserContext) and
    wait until the figure canvas shows real pixels."""
    page = browser.new_page()
    page.set_viewport_size(VIEWPORT)
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_function(f"({DARK_PIXELS_JS})() > 2000", timeout=timeout_ms, polling=100)
    return page


def kernel_process(kernel_id: str) -> psutil.Process:
    """The process of kernel ``kernel_id``: the one listening on the shell port of its connection
    file. Voilà writes connection files to a temporary folder of its own (voila_*), other servers
    to Jupyter's runtime folder; a kernel forked from the template (explorer/serving/fork.py)
    does not name the file in its command line, so the port is what finds it."""
    name = f"kernel-{kernel_id}.json"
    files = [
        *Path(tempfile.gettempdir()).glob(f"voila_*/{name}"),
        *Path(jupyter_runtime_dir()).glob(name),
    ]
    if len(files) != 1:
        raise LookupError(f"expected one connection file {name}, found {files}")
    port = json.loads(files[0].read_text())["shell_port"]
    for process in psutil.process_iter():
        with suppress(psutil.Error):
            for connection in process.net_connections("tcp"):
                if connection.laddr.port == port and connection.status == psutil.CONN_LISTEN:
                    return process
    raise LookupError(f"no process listens on kernel {kernel_id}'s shell port {port}")
