"""A class of N students on one Voilà server: page-ready time, slider-to-repaint time, memory.

What it runs. A real Voilà serving notebooks/explorer.ipynb with the repository's voila.py, as
tests.serving.voila_server starts it (the command ``make serve`` runs), plus any environment
assignments and extra arguments the Makefile's ``serve`` recipe adds; EXPLORER_* variables set
when this runs reach the server too. One fresh server per class, on loopback. Before the class
starts it waits until the server and any preheated kernels are idle.

Who comes. N students arrive at times drawn uniformly at random over ``--window`` seconds
(seed ``--seed``; shifted so that the first arrives at once). Two of them (``--browsers``, drawn
at random among the arrivals) are real headless Chromium pages (Playwright, Debian's
/usr/bin/chromium, tests.serving.CHROMIUM_ARGS, one browser context each); the other N - 2 are
simulated students (benchmarks/students.py): one asyncio task each, in this one process,
sending the server and the kernel the messages the page sends (page, static files, kernel
websocket with the page's v1 subprotocol, widget state request, ipympl's canvas protocol, the
heartbeat's pings, the width probe, the closing beacon), so the server and the kernels do for
them what they do for a browser; only the rendering is left out.

What each student does. It loads the page, then moves the deep network's depth control about
once a second (20 → 30 → 20 …, one step each) until the class ends, ``--hold`` seconds after the
last arrival (and for at least ``--min-work`` seconds), or for ``--stay`` seconds if given; then
it closes the page (Voilà's beforeunload beacon asks the server to shut its kernel down). Each
change waits for its repaint.

What is measured.

- Ready: from the student's first GET to the first image of the figure. A simulated student
  counts the arrival of the canvas's first PNG (the kernel sends it once the client answers
  ipympl's draw request, as the page does); a browser counts the moment its visible figure
  canvas shows real pixels (tests.serving.DARK_PIXELS_JS > 2000, what tests.serving.open_app
  waits for), polled every 100 ms in the page and timed by the page's own clock.
- Repaint: a simulated student times from just before its value update is sent to the arrival of
  the next PNG of the visible canvas; a browser from the key press (the keydown time stamp when
  bench_browser's hook records it, else just before the press) to the next drawImage, as
  bench_browser.py does.
- Class full: a 503 answer to the page's GET is counted, its Retry-After honoured and the GET
  retried (a browser also lets the 503 page reload itself if it does) until the class ends. The
  wait is from the first GET to the GET that was let in.
- Memory, sampled every second: the sum of RSS (and of PSS, which counts shared pages once: forked
  kernels share most of theirs) of the server process and every process it started (kernels, and
  a kernel template if kernels are forked); the machine's used memory (psutil) before and
  at its peak; the clients' RSS (Chromium, Playwright's driver, this process).
- Load average (1 min) before, its highest value while the class ran, and after; the server
  process's CPU seconds.

Percentiles are over every student (ready) or every change (repaint) of all runs (``--runs``):
p50 is the median, p90 the nearest rank (the smallest value at least 90 % of them do not exceed).

Prints JSON (stdout), and the markdown table rows (stderr) as each class ends.
Run: .venv/bin/python benchmarks/bench_class.py --students 20
     .venv/bin/python benchmarks/bench_class.py --sweep 1,5,10,20,40
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shlex
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
from playwright.async_api import Browser, Page, Response, async_playwright

from benchmarks.bench_browser import HOOK_PAINTS_JS
from benchmarks.students import (
    PROBE_WIDTH,
    SimulatedStudent,
    StudentResult,
    retry_after_seconds,
    triangle,
)
from tests.serving import (
    CHROMIUM_ARGS,
    DARK_PIXELS_JS,
    REPO,
    VIEWPORT,
    chromium_path,
    slider_of,
    voila_server,
)

SERVER_COMMANDS = ("voila", "explorer-serve")  # what the Makefile's serve recipe may run
MIB = 1024**2
GIB = 1024**3
SAMPLE_SECONDS = 1.0

# the visible number control whose label starts with "depth" (explorer/panels/number.py)
DEPTH_LABEL_JS = """() => [...document.querySelectorAll('.ge-number')]
  .filter(c => c.offsetParent !== null)
  .map(c => c.querySelector('label').textContent)
  .find(t => /^depth/i.test(t))"""
# when the press began: the keydown's own time stamp if bench_browser's hook records it
PRESS_START_JS = """([pressed, t0]) =>
  (window.__keys && window.__keys.length > pressed) ? window.__keys[pressed] : t0"""
REPAINTED_JS = f"""([pressed, t0]) => {{
  const start = ({PRESS_START_JS})([pressed, t0]);
  return window.__paints.some(t => t > start);
}}"""
REPAINT_MS_JS = f"""([pressed, t0]) => {{
  const start = ({PRESS_START_JS})([pressed, t0]);
  return Math.min(...window.__paints.filter(t => t > start)) - start;
}}"""
# the page's own clock (epoch ms) at the first poll that finds the figure painted
PAINTED_AT_JS = f"""() => ({DARK_PIXELS_JS})() > 2000
  && performance.timeOrigin + performance.now()"""


# -- the server ------------------------------------------------------------------------------
@dataclass
class ServerSettings:
    """How the server is started: what the Makefile's ``serve`` recipe adds to voila_server."""

    recipe: list[str]
    env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def serve_settings(makefile: Path = REPO / "Makefile") -> ServerSettings:
    """The ``serve`` recipe's environment assignments (NAME=value before the voila command) and
    voila arguments after the notebook. Tokens with make variables, and --port/--ip (the
    benchmark's server listens on a free loopback port), are left out and listed in ``ignored``."""
    lines = makefile.read_text().splitlines()
    recipe: list[str] = []
    for number, line in enumerate(lines):
        if line.startswith("serve:"):
            for body in lines[number + 1 :]:
                if not body.startswith("\t"):
                    break
                recipe.append(body.strip())
            break
    settings = ServerSettings(recipe)
    for line in recipe:
        _read_serve_line(shlex.split(line), settings)
    return settings


def _read_serve_line(tokens: list[str], settings: ServerSettings) -> None:
    """Add one recipe line's environment and voila arguments to ``settings``."""
    where = [i for i, t in enumerate(tokens) if Path(t).name in SERVER_COMMANDS]
    if not where:
        return
    for token in tokens[: where[0]]:
        name, equals, value = token.partition("=")
        if equals and name.isidentifier() and "$(" not in value:
            settings.env[name] = value
        elif token != "env":
            settings.ignored.append(token)
    for token in tokens[where[0] + 1 :]:
        if token.endswith(".ipynb"):
            continue
        if "$(" in token or token.split("=")[0] in {"--port", "--Voila.port", "--ip"}:
            settings.ignored.append(token)
        else:
            settings.extra_args.append(token)


def server_process() -> psutil.Process:
    """The server voila_server started: the child of this process that serves the notebook."""
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if any(part.endswith(".ipynb") for part in child.cmdline()):
                return child
    raise RuntimeError("no server process among this process's children")


def tree(server: psutil.Process) -> list[psutil.Process]:
    """The server and every process it started (kernels, and a kernel template if any)."""
    with contextlib.suppress(psutil.Error):
        return [server, *server.children(recursive=True)]
    return []


def kernel_count(server: psutil.Process, processes: Sequence[psutil.Process]) -> int:
    """Kernels among ``processes``: every process the server started except a kernel template
    (explorer/serving/zygote.py, which forks the kernels)."""
    helpers = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if process.ppid() == server.pid and "zygote" in " ".join(process.cmdline()):
                helpers += 1
    return max(0, len(processes) - 1 - helpers)


def wait_until_idle(server: psutil.Process, at_most_s: float = 180.0) -> float:
    """Wait until the server and its kernels (preheated ones too) use under 10 % of a core for
    two seconds in a row; the seconds waited."""
    started = time.perf_counter()
    quiet = 0
    while time.perf_counter() - started < at_most_s and quiet < 2:
        processes = tree(server)
        before = sum(_cpu_seconds(p) for p in processes)
        time.sleep(1.0)
        used = sum(_cpu_seconds(p) for p in processes) - before
        quiet = quiet + 1 if used < 0.1 else 0
    return time.perf_counter() - started


def _cpu_seconds(process: psutil.Process) -> float:
    with contextlib.suppress(psutil.Error):
        times = process.cpu_times()
        return float(times.user + times.system)
    return 0.0


class Sampler(threading.Thread):
    """Samples memory and load every SAMPLE_SECONDS while the class runs; keeps the peaks."""

    def __init__(self, server: psutil.Process) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.halt = threading.Event()
        self.peak_rss = self.peak_pss = self.peak_client_rss = 0
        self.peak_kernels = 0
        self.used_before = psutil.virtual_memory().used
        self.peak_used = self.used_before
        self.load_before = os.getloadavg()
        self.peak_load = self.load_before[0]
        self.load_after: tuple[float, float, float] | None = None
        self.server_cpu_start = _cpu_seconds(server)
        self.server_cpu_s = 0.0

    def run(self) -> None:
        while not self.halt.wait(SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> None:
        served = tree(self.server)
        rss = pss = 0
        for process in served:
            with contextlib.suppress(psutil.Error):
                memory = process.memory_full_info()
                rss += memory.rss
                pss += memory.pss
        pids = {p.pid for p in served}
        me = psutil.Process()
        client = 0
        for process in [me, *me.children(recursive=True)]:
            if process.pid not in pids:
                with contextlib.suppress(psutil.Error):
                    client += process.memory_info().rss
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_kernels = max(self.peak_kernels, kernel_count(self.server, served))
        self.peak_client_rss = max(self.peak_client_rss, client)
        self.peak_used = max(self.peak_used, psutil.virtual_memory().used)
        self.peak_load = max(self.peak_load, os.getloadavg()[0])
        self.server_cpu_s = _cpu_seconds(self.server) - self.server_cpu_start

    def stop(self) -> None:
        self.sample()
        self.halt.set()
        self.join()
        self.load_after = os.getloadavg()

    def report(self) -> dict[str, Any]:
        return {
            "server_and_kernels_rss_peak_mib": round(self.peak_rss / MIB),
            "server_and_kernels_pss_peak_mib": round(self.peak_pss / MIB),
            "kernels_peak": self.peak_kernels,
            "machine_used_before_gib": round(self.used_before / GIB, 2),
            "machine_used_peak_gib": round(self.peak_used / GIB, 2),
            "client_rss_peak_mib": round(self.peak_client_rss / MIB),
            "server_cpu_s": round(self.server_cpu_s, 1),
            "load_before": [round(x, 2) for x in self.load_before],
            "load_1min_peak": round(self.peak_load, 2),
            "load_after": [round(x, 2) for x in self.load_after or ()],
        }


# -- the page's static files -----------------------------------------------------------------
async def record_assets(url: str) -> list[str]:
    """The same-origin files a browser fetches on its first visit to ``url`` (path and query),
    besides the page itself and the kernel API."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    seen: list[str] = []

    def note(request_url: str) -> None:
        parts = urlsplit(request_url)
        if request_url.startswith(origin) and parts.path != "/":
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if not parts.path.startswith("/api/") and path not in seen:
                seen.append(path)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path() or "/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
        page.on("request", lambda request: note(request.url))
        await page.goto(url, wait_until="domcontentloaded", timeout=180_000)
        await page.wait_for_function(f"({DARK_PIXELS_JS})() > 2000", timeout=180_000, polling=100)
        await asyncio.sleep(1.0)
        await browser.close()
    return seen


def discover_assets(settings: ServerSettings) -> list[str]:
    """``record_assets`` on a server of its own (its kernel is gone before any class starts)."""
    with server_environment(settings), voila_server(tuple(settings.extra_args)) as url:
        return asyncio.run(record_assets(url))


@contextlib.contextmanager
def server_environment(settings: ServerSettings) -> Iterator[None]:
    """``settings.env`` in this process's environment (voila_server passes it on)."""
    saved = {name: os.environ.get(name) for name in settings.env}
    os.environ.update(settings.env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- a browser student -----------------------------------------------------------------------
@dataclass
class Options:
    window_s: float = 60.0
    hold_s: float = 30.0
    browsers: int = 2
    seed: int = 0
    interval_s: float = 1.0
    min_work_s: float = 10.0
    stay_s: float | None = None
    ready_timeout_s: float = 240.0
    repaint_timeout_s: float = 30.0
    probe_width: int = PROBE_WIDTH
    assets: list[str] = field(default_factory=list)


class BrowserStudent:
    """A student in headless Chromium (see the module docstring)."""

    def __init__(self, browser: Browser, url: str, options: Options) -> None:
        self.browser = browser
        self.url = url
        self.options = options
        self.documents: asyncio.Queue[Response] = asyncio.Queue()
        self.navigated_at = 0.0  # when the last navigation of the page started (epoch s)
        self.stage = "arriving"  # what the student waits for (said when it is never ready)

    async def run(self, arrive_at: float, end_at: float, result: StudentResult) -> None:
        context = await self.browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        await context.add_init_script(HOOK_PAINTS_JS)
        page = await context.new_page()
        page.on("request", self._on_request)
        page.on("response", self._on_response)
        await asyncio.sleep(max(0.0, arrive_at - time.perf_counter()))
        first_get = time.time()
        try:
            ready = await asyncio.wait_for(
                self.arrive(page, result, first_get, end_at),
                timeout=self.options.ready_timeout_s + max(0.0, end_at - time.perf_counter()),
            )
        except asyncio.TimeoutError:
            result.error = result.error or f"not ready in time (waiting for {self.stage})"
            ready = False
        except Exception as error:  # a browser student that fails must not end the class
            result.error = f"{type(error).__name__}: {error}"[:200]
            ready = False
        if ready:
            try:
                now = time.perf_counter()
                stay = self.options.stay_s
                leave = (
                    now + stay if stay is not None else max(end_at, now + self.options.min_work_s)
                )
                await self.work(page, leave, result)
            except Exception as error:
                result.dropped = f"{type(error).__name__}: {error}"[:200]
        with contextlib.suppress(Exception):  # the tab closes: Voilà's beforeunload runs
            await page.close(run_before_unload=True)
            await asyncio.sleep(0.5)  # its shutdown beacon goes out
            await context.close()

    def _on_request(self, request: Any) -> None:
        if request.is_navigation_request() and request.frame.parent_frame is None:
            self.navigated_at = time.time()

    def _on_response(self, response: Response) -> None:
        if response.request.is_navigation_request() and response.frame.parent_frame is None:
            self.documents.put_nowait(response)

    async def arrive(
        self, page: Page, result: StudentResult, first_get: float, end_at: float
    ) -> bool:
        """Open the page (waiting out 503s) until its figure is painted; whether it was."""
        timeout_ms = self.options.ready_timeout_s * 1000
        self.stage = "the page"
        response = await page.goto(self.url, wait_until="commit", timeout=timeout_ms)
        while response is not None and response.status == 503:
            result.full_responses += 1
            pause = retry_after_seconds(await response.header_value("retry-after"))
            if time.perf_counter() + pause > end_at:
                result.error = "class full until the class ended"
                return False
            while not self.documents.empty():  # the 503 itself
                self.documents.get_nowait()
            try:  # the "class is full" page may reload itself when Retry-After is up
                response = await asyncio.wait_for(self.documents.get(), pause + 2.0)
            except asyncio.TimeoutError:
                response = await page.goto(self.url, wait_until="commit", timeout=timeout_ms)
        if response is None or response.status != 200:
            result.error = f"page answered HTTP {response.status if response else None}"
            return False
        result.waited_s = max(0.0, self.navigated_at - first_get) if result.full_responses else 0.0
        self.stage = "the figure painted"
        painted = await page.wait_for_function(PAINTED_AT_JS, timeout=timeout_ms, polling=100)
        result.ready_s = float(await painted.json_value()) / 1000 - first_get
        result.kernel_id = await page.evaluate(
            "JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
        )
        return True

    async def work(self, page: Page, end_at: float, result: StudentResult) -> None:
        """Press arrow keys on the depth slider about once a second; time each repaint."""
        await asyncio.sleep(1.0)  # as bench_browser does after the page is ready
        label = await page.evaluate(DEPTH_LABEL_JS)
        if not label:
            raise LookupError("no depth control on the page")
        handle = slider_of(page, label)
        await handle.focus()
        value, low, high = await handle.evaluate("e => [+e.value, +e.min, +e.max]")
        targets = triangle(int(value), int(low), int(high), changes=10**6)
        while time.perf_counter() < end_at:
            started = time.perf_counter()
            current = await handle.evaluate("e => +e.value")
            key = "ArrowRight" if next(targets) > current else "ArrowLeft"
            pressed, t0 = await page.evaluate(
                "() => [(window.__keys || []).length, performance.now()]"
            )
            await handle.press(key)
            try:
                await page.wait_for_function(
                    REPAINTED_JS,
                    arg=[pressed, t0],
                    timeout=self.options.repaint_timeout_s * 1000,
                    polling="raf",
                )
            except Exception:  # Playwright's TimeoutError: no repaint in time
                result.lost_repaints += 1
                continue
            result.repaints_ms.append(await page.evaluate(REPAINT_MS_JS, [pressed, t0]))
            await asyncio.sleep(max(0.15, started + self.options.interval_s - time.perf_counter()))


# -- a class ---------------------------------------------------------------------------------
def arrivals(students: int, options: Options, run: int) -> tuple[list[float], set[int]]:
    """Arrival offsets (seconds, sorted, the first at 0) and which students are browsers."""
    rng = random.Random(options.seed * 1000 + run)
    times = sorted(rng.uniform(0.0, options.window_s) for _ in range(students))
    times = [t - times[0] for t in times]
    browsers = set(rng.sample(range(students), min(options.browsers, students)))
    return times, browsers


async def class_session(url: str, students: int, options: Options, run: int) -> list[StudentResult]:
    """Every student of one class, from the first arrival to the end of the class."""
    offsets, browser_indices = arrivals(students, options, run)
    results = [
        StudentResult(index, "browser" if index in browser_indices else "sim", round(offset, 2))
        for index, offset in enumerate(offsets)
    ]
    async with contextlib.AsyncExitStack() as stack:
        browser = None
        if browser_indices:
            playwright = await stack.enter_async_context(async_playwright())
            browser = await playwright.chromium.launch(
                executable_path=chromium_path() or "/usr/bin/chromium", args=CHROMIUM_ARGS
            )
        start = time.perf_counter() + 1.0
        end = start + offsets[-1] + options.hold_s
        runners = []
        for result, offset in zip(results, offsets, strict=True):
            if result.kind == "browser":
                assert browser is not None
                runners.append(
                    BrowserStudent(browser, url, options).run(start + offset, end, result)
                )
            else:
                student = SimulatedStudent(
                    result.index,
                    url,
                    options.assets,
                    seed=options.seed * 1000 + run * 100 + result.index,
                    probe_width=options.probe_width,
                    ready_timeout_s=options.ready_timeout_s,
                    repaint_timeout_s=options.repaint_timeout_s,
                    interval_s=options.interval_s,
                    min_work_s=options.min_work_s,
                    stay_s=options.stay_s,
                )
                runners.append(student.run(start + offset, end, result))
        await asyncio.gather(*runners)
        if browser is not None:
            await browser.close()
    return results


@dataclass
class ClassRun:
    students: list[StudentResult]
    server: dict[str, Any]


def run_class(students: int, options: Options, settings: ServerSettings, run: int) -> ClassRun:
    """One class on a fresh server."""
    with server_environment(settings), voila_server(tuple(settings.extra_args)) as url:
        server = server_process()
        warm_s = wait_until_idle(server)
        kernels_at_start = kernel_count(server, tree(server))
        sampler = Sampler(server)
        sampler.start()
        try:
            results = asyncio.run(class_session(url, students, options, run))
        finally:
            sampler.stop()
    report = sampler.report()
    report["warm_up_s"] = round(warm_s, 1)
    report["kernels_before_class"] = kernels_at_start
    return ClassRun(results, report)


# -- the report ------------------------------------------------------------------------------
def spread(values: Sequence[float], digits: int) -> dict[str, Any]:
    """n, p50 (the median), p90 (nearest rank) and max of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return {"n": 0, "p50": None, "p90": None, "max": None}
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), digits),
        "p90": round(ordered[math.ceil(0.9 * len(ordered)) - 1], digits),
        "max": round(ordered[-1], digits),
    }


def summarize(students: int, options: Options, runs: list[ClassRun]) -> dict[str, Any]:
    everyone = [s for run in runs for s in run.students]

    def of(kind: str) -> list[StudentResult]:
        return [s for s in everyone if s.kind == kind]

    def ready(kind: str) -> dict[str, Any]:
        return spread([s.ready_s for s in of(kind) if s.ready_s is not None], 2)

    def repaint(kind: str) -> dict[str, Any]:
        return spread([ms for s in of(kind) for ms in s.repaints_ms], 1)

    never = [s for s in everyone if s.ready_s is None]
    full = [s for s in everyone if s.full_responses]
    memory = dict(runs[0].server)  # with several runs: the highest value of each number
    for key, value in memory.items():
        if isinstance(value, int | float):
            memory[key] = max(run.server[key] for run in runs)
    report: dict[str, Any] = {
        "students": students,
        "simulated": len(of("sim")) // len(runs),
        "browsers": len(of("browser")) // len(runs),
        "runs": len(runs),
        "arrival_window_s": options.window_s,
        "hold_s": options.hold_s,
        "seed": options.seed,
        "ready_s": {"sim": ready("sim"), "browser": ready("browser")},
        "repaint_ms": {"sim": repaint("sim"), "browser": repaint("browser")},
        "sim_page_html_s": spread([s.html_s for s in of("sim") if s.html_s is not None], 2),
        "sim_states_s": spread([s.states_s for s in of("sim") if s.states_s is not None], 2),
        "lost_repaints": {k: sum(s.lost_repaints for s in of(k)) for k in ("sim", "browser")},
        "never_ready": {
            "count": len(never),
            "reasons": dict(Counter(str(s.error) for s in never)),
        },
        "dropped_after_ready": dict(Counter(s.dropped for s in everyone if s.dropped)),
        "class_full": {
            "students_waited": len(full),
            "responses_503": sum(s.full_responses for s in everyone),
            "wait_s": spread([s.waited_s for s in full], 1),
        },
        "memory_and_load": memory,
        "browser_students": [
            {"arrival_s": s.arrival_s, "ready_s": _round(s.ready_s, 2), "error": s.error}
            for s in of("browser")
        ],
    }
    report["markdown_row"] = markdown_row(report)
    return report


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


TABLE_HEADER = (
    "| students (sim + browser) | arrivals over | ready sim p50 / p90 / max | ready browser"
    " p50 / max | repaint sim p50 / p90 | repaint browser p50 / p90 | never ready | class full:"
    " students (wait p50 / max) | peak RSS server + kernels (PSS) | machine used before → peak |"
    " load 1 min: before → peak |\n" + "| ---" * 11 + " |"
)


def markdown_row(report: dict[str, Any]) -> str:
    def trio(stats: dict[str, Any], unit: str, keys: Sequence[str]) -> str:
        if not stats["n"]:
            return "–"
        return " / ".join(f"{stats[k]}" for k in keys) + f" {unit}"

    memory = report["memory_and_load"]
    full = report["class_full"]
    waited = (
        f"{full['students_waited']} ({full['wait_s']['p50']} / {full['wait_s']['max']} s)"
        if full["students_waited"]
        else "0"
    )
    cells = [
        f"{report['students']} ({report['simulated']} + {report['browsers']})",
        f"{report['arrival_window_s']:g} s",
        trio(report["ready_s"]["sim"], "s", ("p50", "p90", "max")),
        trio(report["ready_s"]["browser"], "s", ("p50", "max")),
        trio(report["repaint_ms"]["sim"], "ms", ("p50", "p90")),
        trio(report["repaint_ms"]["browser"], "ms", ("p50", "p90")),
        str(report["never_ready"]["count"]),
        waited,
        f"{memory['server_and_kernels_rss_peak_mib'] / 1024:.1f} GiB"
        f" ({memory['server_and_kernels_pss_peak_mib'] / 1024:.1f})",
        f"{memory['machine_used_before_gib']} → {memory['machine_used_peak_gib']} GiB",
        f"{memory['load_before'][0]} → {memory['load_1min_peak']}",
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--students", type=int, default=5, help="class size N (default 5)")
    sizes.add_argument("--sweep", help="class sizes, e.g. 1,5,10,20,40: one table row each")
    parser.add_argument("--window", type=float, default=60.0, help="arrivals spread, seconds")
    parser.add_argument(
        "--hold", type=float, default=30.0, help="seconds the class goes on after the last arrival"
    )
    parser.add_argument("--browsers", type=int, default=2, help="students in real Chromium")
    parser.add_argument("--seed", type=int, default=0, help="seed of the arrival times")
    parser.add_argument("--runs", type=int, default=1, help="classes per size (fresh server)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between changes")
    parser.add_argument(
        "--min-work", type=float, default=10.0, help="seconds a student works at least once ready"
    )
    parser.add_argument(
        "--stay",
        type=float,
        default=None,
        help="seconds a student stays once ready, then closes the page (default: to the end)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=240.0,
        help="seconds a let-in page may take to show its figure",
    )
    parser.add_argument("--repaint-timeout", type=float, default=30.0)
    parser.add_argument(
        "--no-assets", action="store_true", help="simulated students skip the page's static files"
    )
    parser.add_argument(
        "--voila-arg", action="append", default=[], help="an extra argument for voila (repeatable)"
    )
    parser.add_argument("--details", action="store_true", help="every student's result too")
    args = parser.parse_args()
    sizes_wanted = [int(n) for n in args.sweep.split(",")] if args.sweep else [args.students]
    if chromium_path() is None and args.browsers:
        raise SystemExit("chromium not found: run `make test` once (it installs Debian's chromium)")

    settings = serve_settings()
    settings.extra_args += args.voila_arg
    options = Options(
        window_s=args.window,
        hold_s=args.hold,
        browsers=args.browsers,
        seed=args.seed,
        interval_s=args.interval,
        min_work_s=args.min_work,
        stay_s=args.stay,
        ready_timeout_s=args.ready_timeout,
        repaint_timeout_s=args.repaint_timeout,
    )
    if not args.no_assets:
        print("learning the page's static files from a browser…", file=sys.stderr)
        options.assets = discover_assets(settings)
    reports = []
    print(TABLE_HEADER, file=sys.stderr)
    for students in sizes_wanted:
        runs = [run_class(students, options, settings, run) for run in range(args.runs)]
        report = summarize(students, options, runs)
        if args.details:
            report["details"] = [[asdict(s) for s in run.students] for run in runs]
        reports.append(report)
        print(report["markdown_row"], file=sys.stderr, flush=True)
    explorer_env = {k: v for k, v in os.environ.items() if k.startswith("EXPLORER_")}
    output = {
        "benchmark": "a class on one Voila server: simulated students and headless Chromium,"
        " deep network panel, depth moved about once a second",
        "server": {
            "makefile_serve_recipe": settings.recipe,
            "env_from_makefile": settings.env,
            "explorer_env": explorer_env,
            "extra_voila_args": settings.extra_args,
            "ignored_from_makefile": settings.ignored,
        },
        "static_files_per_sim_page": len(options.assets),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
        },
        "results": reports,
        "markdown_table": [TABLE_HEADER, *(r["markdown_row"] for r in reports)],
    }
    print(json.dumps(output, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
