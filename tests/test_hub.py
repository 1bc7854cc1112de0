"""JupyterHub from deploy/jupyterhub serves each user their own app, and culls the idle ones.

A real JupyterHub (with configurable-http-proxy from the npm registry, installed by `make test`)
runs on free loopback ports, its database, cookie secret and users' homes in a temporary folder.
Two users log in through the hub's login page in headless Chromium, each in a browser context of
their own, and each gets the deep network's figure drawn by a server process of their own. The
idle culler then stops the server of the user who closed their page, and keeps the other.

In CI (CI=true) this must run; elsewhere it skips, saying why, when jupyterhub or the proxy is
not installed (`make test` installs both).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.serving import DARK_PIXELS_JS, VIEWPORT, slider_of, stop_group, wait_for_status

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "deploy" / "jupyterhub" / "jupyterhub_config.py"
PROXY = REPO / "deploy" / "jupyterhub" / "node_modules" / ".bin" / "configurable-http-proxy"
USERS = ("alice", "bob")
MEM_LIMIT = 1024**3  # EXPLORER_HUB_MEM_LIMIT below, in bytes
CULL_IDLE = 15  # seconds: a closed page's server is stopped within about CULL_IDLE + 2 * 5 s
LOG = logging.getLogger(__name__)


@dataclass
class Hub:
    url: str
    password: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_time(pid: int) -> str | None:
    """The live process's start time in clock ticks (field 22 of /proc/<pid>/stat), None once it
    has exited (a zombie has exited): a pid with the same start time is the same process, not a
    later one that reused the number."""
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def _descendants(root: int) -> list[int]:
    """Every process below ``root``: the proxy, the culler, the users' servers, their kernels."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _environ(pid: int) -> dict[str, str]:
    raw = (Path("/proc") / str(pid) / "environ").read_bytes()
    pairs = (item.decode(errors="replace").split("=", 1) for item in raw.split(b"\0") if item)
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def _status_kib(pid: int, field: str) -> int:
    text = (Path("/proc") / str(pid) / "status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1))  # type: ignore[union-attr]


def _pss_kib(pid: int) -> int:
    """Proportional set size: shared pages (libraries, torch) divided among their users."""
    text = (Path("/proc") / str(pid) / "smaps_rollup").read_text()
    return int(re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE).group(1))  # type: ignore[union-attr]


def _cpu_seconds(pid: int) -> float:
    """CPU time the process has used so far (user + system, fields 14 and 15 of its stat)."""
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _data_limit(pid: int) -> str:
    limits = (Path("/proc") / str(pid) / "limits").read_text()
    return re.search(r"^Max data size\s+(\S+)", limits, re.MULTILINE).group(1)  # type: ignore[union-attr]


def _user_servers(hub: subprocess.Popen[bytes]) -> dict[str, int]:
    """The single-user servers the hub started, by JUPYTERHUB_USER."""
    servers: dict[str, int] = {}
    for pid in _descendants(hub.pid):
        if "jupyterhub-singleuser" in _cmdline(pid):
            with suppress(OSError):
                servers[_environ(pid)["JUPYTERHUB_USER"]] = pid
    return servers


def _kernels(server: int) -> list[int]:
    """The processes below a user's server: its kernels, started as `python -m ipykernel_launcher`
    or forked from voila.py's kernel template (explorer/serving/fork.py), and the template."""
    return _descendants(server)


def _started_by_servers_of(api_url: str) -> list[int]:
    """Every process whose environment names this hub's API: the users' servers and whatever they
    started, including what outlived a culled server (its parent gone, it is no longer a
    descendant of the hub)."""
    marker = f"JUPYTERHUB_API_URL={api_url}".encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


def _stop(process: subprocess.Popen[bytes], api_url: str) -> None:
    """Stop the hub, and with it the proxy, the culler, the users' servers and their kernels.
    Each of those runs in a session of its own (a process group killpg of the hub's group does
    not reach), so whatever is still alive after the hub's own shutdown is killed by pid, checked
    against its start time."""
    tree = {pid: _start_time(pid) for pid in _descendants(process.pid)}
    tree.update({pid: _start_time(pid) for pid in _started_by_servers_of(api_url)})
    stop_group(process, timeout_s=30)  # the hub stops its servers, services and proxy
    for pid in [*_descendants(process.pid), *_started_by_servers_of(api_url)]:
        tree.setdefault(pid, _start_time(pid))
    for signum in (signal.SIGTERM, signal.SIGKILL):  # what outlived the hub's shutdown
        alive = [pid for pid, started in tree.items() if started and _start_time(pid) == started]
        for pid in alive:
            with suppress(ProcessLookupError):
                os.kill(pid, signum)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_start_time(p) == tree[p] for p in alive):
            time.sleep(0.1)


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} in CI: `make test` installs it")
    pytest.skip(f"{reason} (make test installs it)")


@pytest.fixture(scope="module")
def hub(request: pytest.FixtureRequest) -> Iterator[Hub]:
    """JupyterHub from deploy/jupyterhub/jupyterhub_config.py, on free loopback ports, its state
    in a temporary folder; stopped with everything it started, whatever the test did."""
    _require(
        shutil.which("jupyterhub", path=str(Path(sys.executable).parent)) is not None,
        "jupyterhub is not installed",
    )
    _require(
        PROXY.exists() or shutil.which("configurable-http-proxy") is not None,
        "configurable-http-proxy is not installed",
    )
    failed_before = request.session.testsfailed
    folder = Path(tempfile.mkdtemp(prefix="explorer-hub-"))
    port, api_port = _free_port(), _free_port()
    password = secrets.token_urlsafe(12)
    env = {
        **os.environ,
        "EXPLORER_HUB_STATE": str(folder / "state"),
        "EXPLORER_HUB_IP": "127.0.0.1",
        "EXPLORER_HUB_USERS": "",  # any name
        "EXPLORER_HUB_PORT": str(port),
        "EXPLORER_HUB_API_PORT": str(api_port),
        "EXPLORER_HUB_PROXY_API_PORT": str(_free_port()),
        "EXPLORER_HUB_PASSWORD": password,
        "EXPLORER_HUB_MEM_LIMIT": str(MEM_LIMIT),
        # short intervals, so that culling happens within the test
        "EXPLORER_HUB_CULL_IDLE": str(CULL_IDLE),
        "EXPLORER_HUB_CULL_EVERY": "5",
        "EXPLORER_HUB_ACTIVITY_INTERVAL": "5",
    }
    log = folder / "hub.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("jupyterhub")), "-f", str(CONFIG)],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    started = Hub(url, password, process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyterhub exited: {started.log_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/hub/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"no hub within 60 s: {started.log_text()[-3000:]}")
            time.sleep(0.3)
        yield started
    finally:
        _stop(process, f"http://127.0.0.1:{api_port}/hub/api")
        if request.session.testsfailed > failed_before or os.environ.get("EXPLORER_KEEP_HUB_LOG"):
            # shown under the failed test: the hub's, the proxy's and the servers' own words
            print(f"hub log kept in {log}; its end:\n{started.log_text()[-4000:]}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _log_in(browser, hub: Hub, name: str, password: str):
    """A browser context of the user's own (its own cookies) with the login form submitted."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login", wait_until="domcontentloaded", timeout=30_000)
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    return context, page


def test_wrong_password_is_refused_at_the_hub_login(hub: Hub, browser) -> None:
    context, page = _log_in(browser, hub, "mallory", hub.password + "x")
    try:
        page.wait_for_selector(".login_error", timeout=20_000)
        assert "/hub/login" in page.url
        assert "mallory" not in _user_servers(hub.process)
    finally:
        context.close()


def test_each_user_gets_their_own_app_and_idle_servers_are_culled(hub: Hub, browser) -> None:
    # both users log in at once, as a class does; each context keeps its own hub cookie
    sessions = {name: _log_in(browser, hub, name, hub.password) for name in USERS}
    try:
        for name, (_context, page) in sessions.items():
            # the hub spawned the user's server and sent them to the app (default_url)
            page.wait_for_url(f"**/user/{name}/voila/render/explorer.ipynb*", timeout=90_000)
            page.wait_for_function(f"({DARK_PIXELS_JS})() > 2000", timeout=90_000, polling=100)
            assert "Computed 20 layers" in wait_for_status(page, "Computed 20 layers")
            # voila.py's strip_sources reached the Voilà extension: no code in the page
            assert "from explorer import App" not in page.content()

        # two server processes, one per user, on different ports, each with its own kernels
        servers = _user_servers(hub.process)
        assert set(servers) == set(USERS), servers
        assert servers["alice"] != servers["bob"]
        urls = {name: _environ(pid)["JUPYTERHUB_SERVICE_URL"] for name, pid in servers.items()}
        assert urls["alice"].endswith("/user/alice/")
        assert urls["bob"].endswith("/user/bob/")
        assert urls["alice"].rsplit(":", 1)[1] != urls["bob"].rsplit(":", 1)[1]
        for name, server in servers.items():
            kernels = _kernels(server)
            assert kernels, f"{name}'s server started no kernel"
            for kernel in kernels:
                # started by this user's server, for this user
                assert _environ(kernel)["JUPYTERHUB_USER"] == name
                # voila.py's thread limit and the spawner's memory cap reached the kernel
                assert _environ(kernel).get("OMP_NUM_THREADS") == "1"
                assert _data_limit(kernel) == str(MEM_LIMIT)
            LOG.info(
                "%s's server: RSS %.0f MiB (PSS %.0f), %.1f s CPU; below it: %s",
                name,
                _status_kib(server, "VmRSS") / 1024,
                _pss_kib(server) / 1024,
                _cpu_seconds(server),
                "; ".join(
                    f"{_cmdline(pid).split(' -f ')[0][-40:]}: RSS "
                    f"{_status_kib(pid, 'VmRSS') / 1024:.0f} MiB (PSS {_pss_kib(pid) / 1024:.0f})"
                    f", {_cpu_seconds(pid):.1f} s CPU"
                    for pid in kernels
                ),
            )
        # voila.py's kernel culling reached both servers' kernel managers (jupyter_server culls
        # no kernel, and says nothing, unless cull_idle_timeout is set)
        culling = re.findall(r"Culling kernels with idle durations > \d+ seconds", hub.log_text())
        assert len(culling) >= 2, culling

        # alice's hub login does not open bob's server
        response = sessions["alice"][0].request.get(
            f"{hub.url}/user/bob/voila/render/explorer.ipynb", max_redirects=10
        )
        assert response.status == 403, (response.status, response.url)

        # bob closes his page; alice keeps hers open. The culler stops bob's idle server only.
        bob_server = servers["bob"]
        bob_started = _start_time(bob_server)
        sessions.pop("bob")[0].close()
        deadline = time.monotonic() + CULL_IDLE + 40
        while _start_time(bob_server) == bob_started and time.monotonic() < deadline:
            time.sleep(1)
        assert _start_time(bob_server) != bob_started, "bob's idle server was not culled"
        assert "Culling server bob" in hub.log_text()
        assert "Culling server alice" not in hub.log_text()
        assert set(_user_servers(hub.process)) == {"alice"}
        # alice's open page, older than the idle timeout, still answers her: ten presses on the
        # depth slider, each recomputed (and the CPU each costs her kernel and server, logged)
        alice_page = sessions["alice"][1]
        kernels = _kernels(servers["alice"])
        before = sum(map(_cpu_seconds, kernels)), _cpu_seconds(servers["alice"])
        slider = slider_of(alice_page, "depth L")
        slider.focus()
        for depth in range(21, 31):
            slider.press("ArrowRight")
            assert f"Computed {depth} layers" in wait_for_status(
                alice_page, f"Computed {depth} layers"
            )
        kernel_ms = (sum(map(_cpu_seconds, kernels)) - before[0]) * 100  # / 10 moves, in ms
        server_ms = (_cpu_seconds(servers["alice"]) - before[1]) * 100
        LOG.info(
            "a depth slider move: %.0f ms CPU in kernels, %.0f ms in the server",
            kernel_ms,
            server_ms,
        )
    finally:
        for context, _page in sessions.values():
            context.close()
