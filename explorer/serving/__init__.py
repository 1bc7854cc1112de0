"""Serving the explorer to a classroom from one machine (see docs/SERVING.md).

Kernel side, cheap to import (standard library only): ``query_string()``, the page's query string
under plain and preheated kernels, and ``when_requested(callback)``, which hands it over without
blocking the notebook's cell.

Server side, imported by the server only (they import Voilà, jupyter_server and tornado, never
torch, matplotlib or ipywidgets):

- ``explorer.serving.frames``: kernel websocket frames checked in both directions;
- ``explorer.serving.kernels``: the kernel cap and kernels freed when their page goes;
- ``explorer.serving.pages``: the page handler (class full, failures said clearly);
- ``explorer.serving.app``: the ``explorer-serve`` command, Voilà with that handler;
- ``explorer.serving.settings`` and ``capacity``: what voila.py configures, from the environment
  and the machine's memory;
- ``explorer.serving.fork``: the kernel provisioner that forks kernels from
  ``explorer.serving.zygote``, the warm template process.
"""

from __future__ import annotations

from explorer.serving.query import query_string, when_requested

__all__ = ["query_string", "when_requested"]
