"""Voila's configuration for serving the explorer (read from the folder voila is started in).

`make serve` runs `explorer-serve notebooks/explorer.ipynb` (Voila with the explorer's page
handler, explorer/serving/app.py) from the repository root, which loads this file. The values
come from EXPLORER_* environment variables and the machine's memory (explorer/serving/settings.py);
docs/SERVING.md explains each one.
"""

import os
import sys

from explorer.serving.settings import MAX_MESSAGE_BYTES, connect_address, from_environment

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)
serving = from_environment(os.environ)

# Where and how: loopback by default; EXPLORER_IP=0.0.0.0 to serve a classroom network.
c.Voila.ip = serving.ip
c.Voila.port = serving.port
c.Voila.open_browser = False
# where a preheated kernel reaches the server to hear its page's query string
os.environ["VOILA_APP_IP"] = connect_address(serving.ip)

# Students see the app, never code or tracebacks; no file under notebooks/ is downloadable.
c.VoilaConfiguration.strip_sources = True
c.VoilaConfiguration.show_tracebacks = False
c.VoilaConfiguration.file_allowlist = []
# a query string cannot pick another template or theme (each would also bypass the preheated pool)
c.VoilaConfiguration.allow_template_override = "NO"
c.VoilaConfiguration.allow_theme_override = "NO"

# Every websocket frame is checked before jupyter_server reads it; a malformed one closes the
# socket (a crafted offset count would otherwise freeze the whole server).
c.Voila.kernel_websocket_connection_class = "explorer.serving.frames.CheckedConnection"
# an uploaded recording (the Your run tab) is one websocket message: up to 64 MB and its envelope
c.Voila.tornado_settings = {"websocket_max_message_size": MAX_MESSAGE_BYTES}

# Slow output is waited for, and said when it never comes, instead of a blank page; a cell that
# runs too long is stopped with a message.
c.VoilaExecutor.iopub_timeout = serving.iopub_timeout
c.VoilaExecutor.raise_on_iopub_timeout = True
c.VoilaExecutor.timeout = serving.cell_timeout
c.VoilaExecutor.interrupt_on_timeout = True  # the kernel is then idle, and freed like any other
c.ExplorerVoila.page_deadline = serving.page_deadline
c.ExplorerVoila.retry_after = serving.retry_after

# Every page runs in its own kernel of about 300 MiB. The cap counts every kernel, preheated
# ones included; a page over it gets "class full" (HTTP 503) and retries by itself.
c.VoilaConfiguration.multi_kernel_manager_class = "explorer.serving.kernels.ExplorerKernelManager"
c.ExplorerKernelManager.max_kernels = serving.max_kernels
c.ExplorerKernelManager.kernel_mib = serving.kernel_mib
c.ExplorerKernelManager.memory_reserve_mib = serving.reserve_mib
# A kernel is freed when its page goes: its last websocket closed (a reconnect within the grace
# keeps it), its page never connected, or (the backstop) no page and no activity for a while.
c.ExplorerKernelManager.disconnect_grace = serving.disconnect_grace
c.ExplorerKernelManager.unconnected_timeout = serving.unconnected_timeout
c.ExplorerKernelManager.unconnected_limit = serving.unconnected_limit
c.MappingKernelManager.cull_idle_timeout = serving.cull_idle
c.MappingKernelManager.cull_interval = 30
c.MappingKernelManager.cull_connected = False

# A pool of preheated kernels that already ran the notebook (EXPLORER_PREHEAT=auto or N).
if serving.preheat > 0:
    c.VoilaConfiguration.preheat_kernel = True
    c.VoilaConfiguration.default_pool_size = serving.preheat

# One compute thread per kernel: with many students on a 2-core machine, kernels each using every
# core would slow each other down. Kernels inherit the server's environment.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, serving.threads)

# Kernels are forked from a template process that has imported torch, matplotlib and the app
# once (explorer/serving/fork.py): a kernel is ready in about 0.4 s of CPU instead of 2 s.
# EXPLORER_FORK=0 starts each kernel as a new Python process instead.
# Linux only: a forked kernel's liveness is read from /proc.
if os.environ.get("EXPLORER_FORK", "1") != "0" and sys.platform == "linux":
    c.KernelProvisionerFactory.default_provisioner_name = "explorer-fork"
