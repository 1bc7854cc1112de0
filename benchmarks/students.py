"""Simulated students for benchmarks/bench_class.py: a page's traffic without a browser.

A ``SimulatedStudent`` does to the server and to its kernel what the served page does in
Chromium (read from the page's websocket frames and from ipywidgets' and ipympl's front ends),
with one asyncio task per student and no rendering:

1. GETs the page (Voilà starts a kernel and runs the notebook before it answers). A 503 answer
   (the server's "class is full" page) is counted, its ``Retry-After`` honoured, and the GET
   retried until the class ends;
2. fetches the page's static files, six at a time over kept-alive connections, as a browser
   does on its first visit (the list is learnt from a real page: ``bench_class.discover_assets``);
3. GETs ``/api/kernels/<id>`` and opens ``/api/kernels/<id>/channels`` with the subprotocol the
   page's JavaScript uses (``v1.kernel.websocket.jupyter.org``, binary frames);
4. speaks the widget protocol as ipywidgets 8's manager does: ``kernel_info_request``, then a
   ``jupyter.widget.control`` comm (``request_states``) for every widget model, then closes it;
5. answers ipympl as its ``MPLCanvasModel`` does: ``refresh``, ``send_image_mode`` and
   ``initialized`` for each canvas; ``draw`` in reply to the kernel's draw request (unless an
   image is awaited); ``refresh`` in reply to a ``resize``. The kernel then sends the figure as
   a PNG in a binary buffer;
6. pings the kernel as the page's heartbeat does (``explorer/panels/heartbeat.js``: a custom
   ``{"event": "ping", "n": …}`` every ``ping_ms``) and reports the panel's width once, as
   ``width.js`` does (``PROBE_WIDTH``, what Chromium at tests.serving.VIEWPORT reports);
7. moves the deep network's depth control about once a second, as a slider drag does
   (``{"method": "update", "state": {"value": v}, "buffer_paths": []}``), 20 → 30 → 20 …, and
   times each change from just before it is sent to the first image of the visible canvas.
8. leaves as a closing tab does: Voilà's ``beforeunload`` beacon (a POST to
   ``/voila/api/shutdown/<kernel id>`` with the ``_xsrf`` cookie's value), then the websocket
   closes.

Ready is the time from the first GET to the first image of the visible figure (a browser paints
it when it arrives). The kernel sends that image only after the page answers ipympl's draw
request, which this client does, so no browser is needed for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException
from websockets.typing import Origin, Subprotocol
from yarl import URL

__all__ = [
    "PROBE_WIDTH",
    "SimulatedStudent",
    "StudentResult",
    "Widgets",
    "pack_v1",
    "retry_after_seconds",
    "triangle",
    "unpack_v1",
]

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
CONTROL_TARGET = "jupyter.widget.control"
CONTROL_VERSION = "1.0.0"  # ipywidgets 8's control comm protocol; the kernel refuses others
PROBE_WIDTH = 1334  # what width.js reports in Chromium at a 1400 px wide viewport
PROBE_DEBOUNCE_S = 0.15  # width.js waits this long after the element is laid out
PARALLEL_FETCHES = 6  # a browser's connections per host (HTTP/1.1)
DEFAULT_RETRY_AFTER_S = 5.0  # when a 503 names no Retry-After
RETRY_AFTER_RANGE_S = (0.5, 120.0)
AMPLITUDE = 10  # the depth goes v0 → v0 + AMPLITUDE → v0, one step per change
Json = dict[str, Any]


# -- the kernel websocket's v1 framing -------------------------------------------------------
def pack_v1(channel: str, parts: Sequence[bytes]) -> bytes:
    """One v1 frame: a little-endian uint64 count of offsets, the offsets, the channel, the
    parts (header, parent header, metadata, content, buffers…), as jupyter_server writes it."""
    name = channel.encode()
    offsets = [8 * (1 + 1 + len(parts) + 1)]
    offsets.append(offsets[-1] + len(name))
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    table = b"".join(offset.to_bytes(8, "little") for offset in offsets)
    return b"".join([len(offsets).to_bytes(8, "little"), table, name, *parts])


def unpack_v1(frame: bytes) -> tuple[str, list[bytes]]:
    """The channel and the parts of a v1 frame."""
    count = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    channel = frame[offsets[0] : offsets[1]].decode()
    return channel, [frame[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]


@dataclass
class Message:
    """A kernel message as received: type, content and binary buffers."""

    channel: str
    msg_type: str
    content: Json
    buffers: list[bytes]

    @classmethod
    def from_frame(cls, frame: bytes | str) -> Message:
        if isinstance(frame, str):  # legacy JSON framing (not what v1 sends, but harmless)
            message = json.loads(frame)
            return cls(
                message.get("channel", ""), message["header"]["msg_type"], message["content"], []
            )
        channel, parts = unpack_v1(frame)
        header = json.loads(parts[0])
        return cls(channel, header["msg_type"], json.loads(parts[3]), parts[4:])


# -- the page's widget models ----------------------------------------------------------------
def model_refs(value: object) -> Iterator[str]:
    """The model ids an ipywidgets state value refers to ("IPY_MODEL_<id>", also in lists)."""
    if isinstance(value, str) and value.startswith("IPY_MODEL_"):
        yield value.removeprefix("IPY_MODEL_")
    elif isinstance(value, list | tuple):
        for item in value:
            yield from model_refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from model_refs(item)


@dataclass
class Widgets:
    """The widget models of one page (``update_states``) and the ones a student uses."""

    states: dict[str, Json]

    def model_name(self, model_id: str) -> str:
        return str(self.states.get(model_id, {}).get("model_name", ""))

    def state(self, model_id: str) -> Json:
        state = self.states.get(model_id, {}).get("state", {})
        return state if isinstance(state, dict) else {}

    def anywidget_kind(self, model_id: str) -> str:
        """The Python class name of an anywidget model ("IntNumberSlider", "Heartbeat"…)."""
        return str(self.state(model_id).get("_anywidget_id", "")).rsplit(".", 1)[-1]

    def visible(self, roots: Sequence[str]) -> set[str]:
        """Models reachable from the page's outputs ``roots``, following only the selected
        child of a tab or stack (a panel in a hidden tab is not on screen)."""
        seen: set[str] = set()
        todo = [root for root in roots if root in self.states]
        while todo:
            model_id = todo.pop()
            if model_id in seen:
                continue
            seen.add(model_id)
            state = self.state(model_id)
            for key, value in state.items():
                refs = list(model_refs(value))
                if key == "children" and "selected_index" in state:
                    index = state["selected_index"]
                    shown = isinstance(index, int) and 0 <= index < len(refs)
                    refs = [refs[index]] if shown else []
                todo.extend(ref for ref in refs if ref in self.states)
        return seen

    def canvases(self) -> list[str]:
        return [m for m in self.states if self.model_name(m) == "MPLCanvasModel"]

    def of_kind(self, kind: str) -> list[str]:
        return [m for m in self.states if self.anywidget_kind(m) == kind]

    def depth_control(self, visible: set[str]) -> str:
        """The deep network's depth: a number control (explorer/panels/number.py) with a
        slider whose description starts with "depth", preferably on screen."""
        found = [
            m
            for m in self.states
            if self.anywidget_kind(m).endswith("NumberSlider")
            and str(self.state(m).get("description", "")).lower().startswith("depth")
            and self.state(m).get("slider", True)
        ]
        found.sort(key=lambda m: m not in visible)
        if not found:
            raise LookupError("no depth control among the page's widget models")
        return found[0]


def kernel_id_of(html: str) -> str | None:
    """The kernel id Voilà writes into the page (jupyter-config-data)."""
    found = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', html)
    return found.group(1) if found else None


def output_models(html: str) -> list[str]:
    """The widget models the page's cell outputs display (the App)."""
    return re.findall(r'"model_id":\s*"([0-9a-f]{32})"', html)


def retry_after_seconds(header: str | None) -> float:
    """A Retry-After header (seconds or an HTTP date) in seconds, within RETRY_AFTER_RANGE_S."""
    low, high = RETRY_AFTER_RANGE_S
    if not header:
        return DEFAULT_RETRY_AFTER_S
    try:
        seconds = float(header)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(header) - datetime.now(timezone.utc)).total_seconds()
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER_S
    return min(max(seconds, low), high)


def triangle(start: int, low: int, high: int, changes: int) -> Iterator[int]:
    """``changes`` values from ``start``: up by one AMPLITUDE times, back down, again…,
    turning back at ``low``/``high``; each differs from the one before."""
    value, direction, run = start, 1, 0
    for _ in range(changes):
        if run == AMPLITUDE or not low <= value + direction <= high:
            direction, run = -direction, 0
        value += direction
        run += 1
        yield value


# -- one student -----------------------------------------------------------------------------
@dataclass
class StudentResult:
    """What one student saw. Times in seconds; ``repaints_ms`` in milliseconds."""

    index: int
    kind: str  # "sim" or "browser"
    arrival_s: float
    ready_s: float | None = None  # first GET → first image of the figure
    states_s: float | None = None  # first GET → every widget model's state received (sim)
    html_s: float | None = None  # the page's GET (the one answered 200) → its last byte
    full_responses: int = 0  # 503 "class is full" answers
    waited_s: float = 0.0  # first GET → the GET that was let in
    repaints_ms: list[float] = field(default_factory=list)
    lost_repaints: int = 0  # changes with no image within the repaint timeout
    error: str | None = None  # why the student never became ready
    dropped: str | None = None  # why a ready student stopped before the class ended
    kernel_id: str | None = None
    shutdown_status: int | None = None  # the answer to the closing page's shutdown beacon (sim)


class SimulatedStudent:
    """One page's traffic (see the module docstring); ``run`` fills a ``StudentResult``.
    Construct it inside the running event loop."""

    def __init__(
        self,
        index: int,
        url: str,
        assets: Sequence[str],
        *,
        seed: int,
        probe_width: int = PROBE_WIDTH,
        ready_timeout_s: float = 240.0,
        repaint_timeout_s: float = 30.0,
        interval_s: float = 1.0,
        min_work_s: float = 10.0,
        stay_s: float | None = None,
    ) -> None:
        self.index = index
        self.url = url.rstrip("/") + "/"
        self.assets = list(assets)
        self.rng = random.Random(seed)
        self.probe_width = probe_width
        self.ready_timeout_s = ready_timeout_s
        self.repaint_timeout_s = repaint_timeout_s
        self.interval_s = interval_s
        self.min_work_s = min_work_s
        self.stay_s = stay_s
        self.session_id = str(uuid.uuid4())
        self.socket: ClientConnection | None = None
        self.widgets = Widgets({})
        self.canvas_ids: set[str] = set()  # every canvas model (each answers ipympl)
        self.shown_canvases: set[str] = set()  # the ones on screen (their images count)
        self.waiting_for_image: set[str] = set()
        self.images: list[float] = []  # arrival times of images of a canvas on screen
        self.image_event = asyncio.Event()
        self.replies: dict[str, asyncio.Future[Message]] = {}  # awaited msg types
        self.control_id = ""
        self.states: asyncio.Future[dict[str, Json]] = asyncio.get_running_loop().create_future()
        self.roots: list[str] = []  # the models the page's outputs display
        self.visible: set[str] = set()
        self.tasks: list[asyncio.Task[None]] = []
        self.stage = "arriving"  # what the student waits for (said when it is never ready)

    # -- sending -------------------------------------------------------------------------------
    async def send(self, msg_type: str, content: Json, metadata: Json | None = None) -> None:
        assert self.socket is not None
        header = {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": self.session_id,
            "username": "",
            "date": datetime.now(timezone.utc).isoformat(),
            "version": "5.2",
        }
        parts = [header, {}, metadata or {}, content]
        await self.socket.send(pack_v1("shell", [json.dumps(p).encode() for p in parts]))

    async def comm_msg(self, comm_id: str, data: Json) -> None:
        await self.send("comm_msg", {"comm_id": comm_id, "data": data})

    async def canvas_event(self, comm_id: str, event_type: str) -> None:
        """An ipympl canvas message, as ``MPLCanvasModel.send_message`` sends it."""
        await self.comm_msg(comm_id, {"method": "custom", "content": {"type": event_type}})

    async def start_canvas(self, comm_id: str) -> None:
        """What ``MPLCanvasModel.initialize`` sends (at a device pixel ratio of 1)."""
        self.canvas_ids.add(comm_id)
        for event_type in ("refresh", "send_image_mode", "initialized"):
            await self.canvas_event(comm_id, event_type)

    # -- receiving -----------------------------------------------------------------------------
    async def read(self) -> None:
        """Read every message the kernel sends; answer the canvas like the page does."""
        assert self.socket is not None
        async for frame in self.socket:
            message = Message.from_frame(frame)
            waiter = self.replies.pop(message.msg_type, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            if message.msg_type == "comm_open":
                await self.on_comm_open(message)
            elif message.msg_type == "comm_msg":
                await self.on_comm_msg(message)

    async def on_comm_open(self, message: Message) -> None:
        """A widget the kernel creates later: the page builds its model (a canvas starts)."""
        content = message.content
        state = content.get("data", {}).get("state", {})
        comm_id = str(content.get("comm_id"))
        self.widgets.states[comm_id] = {"model_name": state.get("_model_name"), "state": state}
        if state.get("_model_name") == "MPLCanvasModel":
            await self.start_canvas(comm_id)

    async def on_comm_msg(self, message: Message) -> None:
        comm_id = str(message.content.get("comm_id"))
        data = message.content.get("data", {})
        if comm_id == self.control_id and data.get("method") == "update_states":
            if not self.states.done():
                self.states.set_result(dict(data.get("states", {})))
            return
        if comm_id not in self.canvas_ids:
            return
        if data.get("method") != "custom":
            return
        event = json.loads(data.get("content", {}).get("data", "{}"))
        event_type = event.get("type")
        if event_type == "binary" and message.buffers:  # MPLCanvasModel.handle_binary
            self.waiting_for_image.discard(comm_id)
            if comm_id in self.shown_canvases:
                self.images.append(time.perf_counter())
                self.image_event.set()
        elif event_type == "draw" and comm_id not in self.waiting_for_image:
            self.waiting_for_image.add(comm_id)  # MPLCanvasModel.send_draw_message
            await self.canvas_event(comm_id, "draw")
        elif event_type == "resize":  # MPLCanvasModel.handle_resize
            await self.canvas_event(comm_id, "refresh")

    async def request(self, reply_type: str, msg_type: str, content: Json, **kw: Any) -> Message:
        """Send a message and wait for the first message of type ``reply_type``."""
        waiter: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self.replies[reply_type] = waiter
        await self.send(msg_type, content, **kw)
        return await waiter

    async def next_image(self, after: int, timeout_s: float) -> float | None:
        """The arrival time of image number ``after`` (0-based) of a canvas on screen."""
        deadline = time.perf_counter() + timeout_s
        while len(self.images) <= after:
            self.image_event.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.image_event.wait(), left)
        return self.images[after]

    async def heartbeat(self, comm_id: str, ping_ms: float) -> None:
        """heartbeat.js: a numbered ping now and every ``ping_ms``."""
        number = self.rng.randrange(10**9)
        while True:
            await self.comm_msg(
                comm_id, {"method": "custom", "content": {"event": "ping", "n": number}}
            )
            number += 1
            await asyncio.sleep(ping_ms / 1000)

    # -- the visit -----------------------------------------------------------------------------
    async def fetch_page(
        self, http: aiohttp.ClientSession, result: StudentResult, first_get: float, end_at: float
    ) -> str | None:
        """GET the page until it is let in (a 503 is waited out); its HTML, or None."""
        while True:
            started = time.perf_counter()
            async with http.get(self.url) as response:
                body = await response.text()
                if response.status == 503:
                    result.full_responses += 1
                    pause = retry_after_seconds(response.headers.get("Retry-After"))
                    if time.perf_counter() + pause > end_at:
                        result.error = "class full until the class ended"
                        return None
                    await asyncio.sleep(pause)
                    continue
                if response.status != 200:
                    result.error = f"page answered HTTP {response.status}"
                    return None
            result.html_s = time.perf_counter() - started
            result.waited_s = started - first_get
            return body

    async def fetch_assets(self, http: aiohttp.ClientSession) -> None:
        """The page's static files, PARALLEL_FETCHES at a time (the connector's limit)."""

        async def fetch(path: str) -> None:
            async with http.get(self.url.rstrip("/") + path) as response:
                await response.read()

        await asyncio.gather(*(fetch(path) for path in self.assets))

    async def open_kernel(self, http: aiohttp.ClientSession, kernel_id: str) -> None:
        """What the page's kernel connection does: GET the kernel's model, open its channels."""
        api = f"{self.url}api/kernels/{kernel_id}"
        async with http.get(f"{api}?{int(time.time() * 1000)}") as response:
            await response.read()
        cookies = http.cookie_jar.filter_cookies(URL(self.url))
        cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
        ws_url = api.replace("http://", "ws://", 1) + f"/channels?session_id={self.session_id}"
        self.socket = await connect(
            ws_url,
            subprotocols=[Subprotocol(V1_PROTOCOL)],
            origin=Origin(self.url.rstrip("/")),
            additional_headers={"Cookie": cookie} if cookie else None,
            proxy=None,
            ping_interval=None,  # a browser sends no pings (it answers the server's)
            max_size=None,
            max_queue=256,
            open_timeout=60,
        )

    async def load_widgets(self) -> None:
        """kernel_info, then every model's state over the control comm (ipywidgets 8)."""
        self.stage = "kernel_info_reply"
        await self.request("kernel_info_reply", "kernel_info_request", {})
        self.stage = "the widget states"
        self.control_id = uuid.uuid4().hex
        await self.send(
            "comm_open",
            {"comm_id": self.control_id, "target_name": CONTROL_TARGET, "data": {}},
            metadata={"version": CONTROL_VERSION},
        )
        await self.comm_msg(self.control_id, {"method": "request_states"})
        states = await self.states
        await self.send("comm_close", {"comm_id": self.control_id, "data": {}})
        self.widgets = Widgets(states)
        self.visible = self.widgets.visible(self.roots)
        canvases = self.widgets.canvases()
        self.shown_canvases = {c for c in canvases if c in self.visible} or set(canvases)
        for canvas in canvases:
            await self.start_canvas(canvas)

    async def render(self) -> None:
        """What the views do once drawn: the heartbeat pings, the width probe reports."""
        for beat in self.widgets.of_kind("Heartbeat"):
            ping_ms = float(self.widgets.state(beat).get("ping_ms", 3000))
            self.tasks.append(asyncio.create_task(self.heartbeat(beat, ping_ms)))
        await asyncio.sleep(PROBE_DEBOUNCE_S)
        for probe in self.widgets.of_kind("WidthProbe"):
            reported = self.widgets.state(probe).get("width", 0)
            if probe in self.visible and abs(self.probe_width - float(reported)) > 8:
                await self.comm_msg(
                    probe,
                    {"method": "update", "state": {"width": self.probe_width}, "buffer_paths": []},
                )

    async def run(self, arrive_at: float, end_at: float, result: StudentResult) -> None:
        """Arrive at ``arrive_at`` (perf_counter time), work until ``leave_at(end_at)``, close
        the page; fill ``result``."""
        await asyncio.sleep(max(0.0, arrive_at - time.perf_counter()))
        first_get = time.perf_counter()
        connector = aiohttp.TCPConnector(limit_per_host=PARALLEL_FETCHES)
        timeout = aiohttp.ClientTimeout(total=self.ready_timeout_s)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as http:
            try:
                await asyncio.wait_for(
                    self.arrive(http, result, first_get, end_at),
                    timeout=self.ready_timeout_s + max(0.0, end_at - first_get),
                )
            except asyncio.TimeoutError:
                result.error = result.error or f"not ready in time (waiting for {self.stage})"
            except (aiohttp.ClientError, WebSocketException, OSError, LookupError, ValueError) as e:
                result.error = f"{type(e).__name__}: {e}"[:200]
            if result.ready_s is not None:
                try:
                    await self.work(self.leave_at(end_at), result)
                except (WebSocketException, OSError, LookupError, ValueError) as e:
                    result.dropped = f"{type(e).__name__}: {e}"[:200]
            await self.leave(http, result)

    def leave_at(self, end_at: float) -> float:
        """When a student that is ready now leaves: ``stay_s`` from now if set, else at the end
        of the class but not before ``min_work_s`` from now."""
        now = time.perf_counter()
        return now + self.stay_s if self.stay_s is not None else max(end_at, now + self.min_work_s)

    async def arrive(
        self, http: aiohttp.ClientSession, result: StudentResult, first_get: float, end_at: float
    ) -> None:
        """From the first GET to the first image on screen (``result.ready_s``)."""
        self.stage = "the page"
        html = await self.fetch_page(http, result, first_get, end_at)
        if html is None:
            return
        ready_by = time.perf_counter() + self.ready_timeout_s
        kernel_id = kernel_id_of(html)
        if kernel_id is None:
            result.error = "the page names no kernel"
            return
        result.kernel_id = kernel_id
        self.stage = "static files"
        await self.fetch_assets(http)
        self.stage = "the kernel websocket"
        await self.open_kernel(http, kernel_id)
        self.tasks.append(asyncio.create_task(self.read()))
        self.roots = output_models(html)
        await self.load_widgets()
        result.states_s = time.perf_counter() - first_get
        if not self.shown_canvases:
            result.error = "no figure on the page (blank page?)"
            return
        self.tasks.append(asyncio.create_task(self.render()))
        self.stage = "the first image"
        first = await self.next_image(0, ready_by - time.perf_counter())
        if first is None:
            result.error = "no figure image within the ready timeout"
            return
        result.ready_s = first - first_get

    async def settle(self, quiet_s: float = 0.5, at_most_s: float = 5.0) -> None:
        """Wait until no image has come for ``quiet_s`` (the fit to the page's width lands)."""
        deadline = time.perf_counter() + at_most_s
        while time.perf_counter() < deadline:
            seen = len(self.images)
            await asyncio.sleep(quiet_s)
            if len(self.images) == seen and not self.waiting_for_image:
                return

    async def work(self, end_at: float, result: StudentResult) -> None:
        """Move the depth about once a second until ``end_at``; time each repaint."""
        await asyncio.sleep(1.0)  # as bench_browser does after the page is ready
        await self.settle()
        depth = self.widgets.depth_control(self.visible)
        state = self.widgets.state(depth)
        low, high = int(state.get("min", 1)), int(state.get("max", 1000))
        values = triangle(int(state.get("value", 20)), low, high, changes=10**6)
        while time.perf_counter() < end_at:
            started = time.perf_counter()
            seen = len(self.images)
            await self.comm_msg(
                depth, {"method": "update", "state": {"value": next(values)}, "buffer_paths": []}
            )
            painted = await self.next_image(seen, self.repaint_timeout_s)
            if painted is None:
                result.lost_repaints += 1
                continue
            result.repaints_ms.append((painted - started) * 1e3)
            await asyncio.sleep(max(0.15, started + self.interval_s - time.perf_counter()))

    async def leave(self, http: aiohttp.ClientSession, result: StudentResult) -> None:
        """Close the page as a browser tab closes: Voilà's ``beforeunload`` handler posts
        ``/voila/api/shutdown/<kernel id>`` (a beacon: a form with the ``_xsrf`` cookie's value)
        and disposes of the kernel connection; the page's timers stop."""
        beacon = None
        if result.kernel_id is not None:
            beacon = asyncio.create_task(self.shutdown_beacon(http, result))
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close()
        if beacon is not None:
            await beacon

    async def shutdown_beacon(self, http: aiohttp.ClientSession, result: StudentResult) -> None:
        cookies = http.cookie_jar.filter_cookies(URL(self.url))
        xsrf = cookies["_xsrf"].value if "_xsrf" in cookies else ""
        form = aiohttp.FormData({"_xsrf": xsrf}, default_to_multipart=True)
        url = f"{self.url}voila/api/shutdown/{result.kernel_id}"
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
            async with http.post(url, data=form, timeout=aiohttp.ClientTimeout(total=30)) as answer:
                await answer.read()
                result.shutdown_status = answer.status
