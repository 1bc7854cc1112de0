"""The page handler: a student gets the explorer, a clear "class full" page, or a clear failure.

Voilà's handler starts a kernel for every request and, when the page cannot be prepared, either
sends a blank page or keeps the request open forever (an error after the kernel started ends its
rendering task, and the handler then waits on it, sending a heartbeat every 10 s).
``ExplorerPageHandler`` wraps it:

- it asks the kernel manager to ``admit`` the page first; when there is no room, the answer is
  HTTP 503 with ``Retry-After`` and a page that reloads itself after that delay;
- it sets the ``_xsrf`` cookie, which the page's shutdown request (sent when its tab closes)
  reads back, so that request is accepted instead of refused with 403;
- it turns a failure, or a page still unfinished after ``page_deadline``, into a message with a
  reload link, never a blank page; details go to the server's log only.
"""

from __future__ import annotations

import random
import time
from typing import Any

from tornado import web
from voila.tornado.handler import TornadoVoilaHandler  # type: ignore[import-untyped]

from explorer.serving.kernels import Admission

# what Voilà's handler sends while the notebook runs (voila/handler.py, `time_out`)
HEARTBEAT = "<script>window.voila_heartbeat()</script>\n"
# closes Voilà's hidden cell container before the failure message, wherever rendering stopped
CLOSE_CELLS = "</div></div>\n"


class PageFailedError(RuntimeError):
    """The page cannot be finished: its kernel died, or its deadline passed."""


class ExplorerPageHandler(TornadoVoilaHandler):  # type: ignore[misc]
    """Voilà's page handler with admission control and page failures said clearly."""

    def initialize(self, **kwargs: Any) -> None:
        super().initialize(**kwargs)
        self.admission: Admission | None = None

    @property
    def app(self) -> Any:
        """The Voilà application (Voilà puts itself in the tornado settings under its name)."""
        return self.settings["voila"]

    @web.authenticated
    async def get(self, path: str | None = None) -> None:
        if self.notebook_path and path:  # another file: Voilà redirects it to its files handler
            await super().get(path=path)
            return
        notebook = self.notebook_path or path
        manager = self.kernel_manager
        admission = manager.admit(notebook)
        if admission is None:
            in_use = manager.kernels_in_use()
            self.log.warning("Class full (%d kernels in use): page refused", in_use)
            self.write_class_full()
            return
        self.xsrf_token  # noqa: B018  (reading it sets the _xsrf cookie the page sends back)
        self.admission = admission
        with manager.admitted(admission):
            await self.stream_page(path)

    def should_use_rendered_notebook(self, *args: Any, **kwargs: Any) -> bool:
        """Take a preheated kernel only when ``admit`` handed one out: Voilà would otherwise also
        take one that is still starting (or waiting for room) and make the page wait for it."""
        if self.admission is None or not self.admission.preheated:
            return False
        return bool(super().should_use_rendered_notebook(*args, **kwargs))

    async def stream_page(self, path: str | None) -> None:
        """Send Voilà's page as it renders; say so clearly if it cannot be finished."""
        started = time.monotonic()
        sent = False
        pages = self.get_generator(path=path)
        try:
            async for html in pages:
                if html == HEARTBEAT:
                    await self.check_progress(started)
                self.write(html)
                self.flush()
                sent = True
        except Exception as error:
            await pages.aclose()
            self.page_failed(error, sent)

    async def check_progress(self, started: float) -> None:
        """On each heartbeat (every 10 s while the notebook runs): give up on a page whose kernel
        died (Voilà's rendering then stops without a word) or that is past its deadline."""
        kernel_id = self.admission.kernel_id if self.admission else None
        if not await self.kernel_manager.kernel_alive(kernel_id):
            raise PageFailedError(f"kernel {kernel_id} died while the page was prepared")
        if time.monotonic() - started > self.app.page_deadline:
            raise PageFailedError(f"page unfinished after {self.app.page_deadline:g} s")

    def page_failed(self, error: Exception, sent: bool) -> None:
        """Log the failure for the operator; show the student a message and a reload link."""
        if not sent and isinstance(error, web.HTTPError) and error.status_code == 503:
            self.write_class_full()  # the kernel manager found no room after all
            return
        # a failure this handler detected needs no traceback; anything else does
        expected = isinstance(error, PageFailedError)
        self.log.error("Page could not be served: %s", error, exc_info=None if expected else error)
        if sent:
            self.write(CLOSE_CELLS + self.render_notice("explorer_failed.html.j2"))
            return
        self.set_status(500)
        self.set_header("Cache-Control", "no-store")
        self.finish(self.render_notice("explorer_error.html.j2"))

    def write_class_full(self) -> None:
        """HTTP 503, ``Retry-After``, and a page that reloads itself after that delay.

        The delay varies by up to half its value per answer, so a class refused together does not
        come back all in the same second.
        """
        delay = int(self.app.retry_after)
        seconds = delay + random.randint(0, delay // 2)  # spreading, not secrecy
        self.set_status(503)
        self.set_header("Retry-After", str(seconds))
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(self.render_notice("explorer_full.html.j2", retry_after=seconds))

    def render_notice(self, name: str, **values: Any) -> str:
        """One of the explorer's own templates (explorer/serving/templates)."""
        return str(self.get_template(name).render(**values))
