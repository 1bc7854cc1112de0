"""Voila's configuration for serving the explorer (read from the folder voila is started in).

`make serve` runs `voila notebooks/explorer.ipynb` from the repository root, which loads this file.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

# Where and how: loopback by default; EXPLORER_IP=0.0.0.0 to serve a classroom network.
c.Voila.ip = os.environ.get("EXPLORER_IP", "127.0.0.1")
c.Voila.port = int(os.environ.get("EXPLORER_PORT", "8866"))
c.Voila.open_browser = False

# Students see the app, never code or tracebacks; no file under notebooks/ is downloadable.
c.VoilaConfiguration.strip_sources = True
c.VoilaConfiguration.show_tracebacks = False
c.VoilaConfiguration.file_allowlist = []

# Every page visit starts a kernel of about 300 MiB; closing the tab does not end it here (the
# page's shutdown request lacks its XSRF argument). Kernels with no open page and no activity for
# 5 minutes are shut down.
c.MappingKernelManager.cull_idle_timeout = int(os.environ.get("EXPLORER_CULL_IDLE", "300"))
c.MappingKernelManager.cull_interval = 60
c.MappingKernelManager.cull_connected = False

# Optional pool of preheated kernels (page ready in ~2 s instead of ~4 s): EXPLORER_PREHEAT=N.
_pool = int(os.environ.get("EXPLORER_PREHEAT", "0"))
if _pool > 0:
    c.VoilaConfiguration.preheat_kernel = True
    c.VoilaConfiguration.default_pool_size = _pool

# One compute thread per kernel: with many students on a 2-core machine, kernels each using every
# core would slow each other down. Kernels inherit the server's environment.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, os.environ.get("EXPLORER_THREADS", "1"))
