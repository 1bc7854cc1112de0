"""JupyterHub's configuration for serving the explorer to a class, one server per user.

    make hub        # or: .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Each user who logs in at http://127.0.0.1:8000 gets their own Jupyter server (a process of their
own here, a pod of their own under Kubernetes), which opens on the Voilà app:
/user/<name>/voila/render/explorer.ipynb. Voilà runs there as a jupyter_server extension, with
the settings of the repository's voila.py (deploy/jupyterhub/singleuser/jupyter_server_config.py
applies them).

This file is the single-machine demo: SharedPasswordAuthenticator and SimpleLocalProcessSpawner
(every user's server runs as the hub's own system user, with no isolation between users: a user
can run code in their server, and so read the hub's files and the other users'). It shows the
setup working end to end (tests/test_hub.py); for a class, use deploy/kubernetes/values.yaml,
where each user is a pod with enforced memory and CPU limits (deploy/README.md).

Environment variables (defaults in brackets):
    EXPLORER_HUB_PASSWORD        the shared password, at least 8 characters [a random one, printed]
    EXPLORER_HUB_USERS           comma-separated names allowed to log in [any name]
    EXPLORER_HUB_IP              address of the public proxy [127.0.0.1]
    EXPLORER_HUB_PORT            its port [8000]
    EXPLORER_HUB_API_PORT        the hub's own port, which servers and the culler call [8081]
    EXPLORER_HUB_PROXY_API_PORT  the proxy's REST API port [8001]
    EXPLORER_HUB_STATE           folder for the database, cookie secret, pid file and homes
                                 [deploy/jupyterhub/.state]
    EXPLORER_HUB_CULL_IDLE       seconds of inactivity after which a user's server is stopped [3600]
    EXPLORER_HUB_CULL_EVERY      how often the culler looks, in seconds [min(600, idle / 2)]
    EXPLORER_HUB_ACTIVITY_INTERVAL  how often activity is reported to the hub, in seconds [300]
    EXPLORER_HUB_MEM_LIMIT       memory limit per user, as JupyterHub writes it [1G]
    EXPLORER_HUB_CPU_LIMIT       cores per user [1] (not enforced by this spawner)
Other EXPLORER_* variables (EXPLORER_THREADS, EXPLORER_CULL_IDLE, EXPLORER_FORK [0 here], ...) are
passed on to every user's server, where voila.py reads them.
"""

from __future__ import annotations

import os
import resource
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
STATE = Path(os.environ.get("EXPLORER_HUB_STATE", HERE / ".state")).resolve()
STATE.mkdir(parents=True, exist_ok=True)
IP = os.environ.get("EXPLORER_HUB_IP", "127.0.0.1")


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


# -- where: the public proxy, the hub's API, the proxy's API, all on loopback by default ----------
c.JupyterHub.bind_url = f"http://{IP}:{_int('EXPLORER_HUB_PORT', 8000)}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{_int('EXPLORER_HUB_API_PORT', 8081)}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{_int('EXPLORER_HUB_PROXY_API_PORT', 8001)}"
# configurable-http-proxy from the npm registry, installed beside this file by `make hub`; when it
# is not there, JupyterHub looks for `configurable-http-proxy` on PATH.
_proxy = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
if _proxy.exists():
    c.ConfigurableHTTPProxy.command = [str(_proxy)]

# Everything the hub writes goes into STATE (not the folder it was started in): the tests give
# each run its own temporary folder.
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")

# -- who: one shared password (JupyterHub's replacement for DummyAuthenticator.password, which is
# deprecated since 5.3). Anyone with the password can log in as any non-admin name: a demo, not a
# class's authentication (deploy/README.md says what to use instead).
c.JupyterHub.authenticator_class = "shared-password"
_password = os.environ.get("EXPLORER_HUB_PASSWORD", "")
if not _password:
    _password = secrets.token_urlsafe(9)
    print(f"EXPLORER_HUB_PASSWORD is not set; this run's password is: {_password}", flush=True)
c.SharedPasswordAuthenticator.user_password = _password
_users = {name.strip() for name in os.environ.get("EXPLORER_HUB_USERS", "").split(",")}
_users.discard("")
if _users:
    c.Authenticator.allowed_users = _users
else:
    c.Authenticator.allow_all = True  # any name: each student picks one


# -- what each user gets: their own jupyter_server, opening on the Voilà app -----------------------
class ExplorerSpawner(SimpleLocalProcessSpawner):  # type: ignore[misc]  (jupyterhub is untyped)
    """SimpleLocalProcessSpawner (no system accounts) that also caps each process of a user's server
    at `mem_limit` bytes of data segment (RLIMIT_DATA: heap and private writable mappings, which
    is what a runaway kernel grows). Kernels inherit the cap from the server. It is a cap per
    process, not per user: Kubernetes and SystemdSpawner cap the user's whole server."""

    def make_preexec_fn(self, name: str) -> Callable[[], None]:
        base = super().make_preexec_fn(name)
        limit = int(self.mem_limit or 0)

        def preexec() -> None:
            base()  # creates the user's home and enters it
            if limit > 0:
                resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

        return preexec


c.JupyterHub.spawner_class = ExplorerSpawner
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "users" / "{username}")
# The server next to this hub's Python (the project's .venv), so kernels import the project.
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
# Users see the notebooks folder (not the repository, where STATE lives) and land on the app.
c.Spawner.notebook_dir = str(REPO / "notebooks")
c.Spawner.default_url = "/voila/render/explorer.ipynb"
_activity = _int("EXPLORER_HUB_ACTIVITY_INTERVAL", 300)
c.Spawner.environment = {
    # jupyter_server_config.py there applies voila.py to the Voilà extension and the kernels
    "JUPYTER_CONFIG_PATH": str(HERE / "singleuser"),
    # how often each server tells the hub it was active (what the culler below reads)
    "JUPYTERHUB_ACTIVITY_INTERVAL": str(_activity),
    # Kernels start as processes of their own, not forked from voila.py's kernel template: a
    # user's server runs one user's kernels, so its template (~260 MiB, ~2 s CPU at start,
    # measured in tests/test_hub.py) would cost more than it saves. EXPLORER_FORK=1 turns it on.
    "EXPLORER_FORK": "0",
    # voila.py's own knobs (EXPLORER_THREADS, EXPLORER_CULL_IDLE, ...) given to the hub reach
    # every user's server, where voila.py reads them; a server inherits nothing else from the hub
    **{
        name: value
        for name, value in os.environ.items()
        if name.startswith("EXPLORER_") and not name.startswith("EXPLORER_HUB_")
    },
}
c.JupyterHub.last_activity_interval = _activity
# The servers run as the hub's own system user. jupyter_server refuses to start as root unless
# told; on a machine where the hub itself runs as root (containers, CI), tell it.
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]
# Two servers starting at once on a 2-core machine each take ~5-10 s; give them room.
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120

# Per-user resources. JupyterHub hands these to the spawner; LocalProcessSpawner only writes them
# into MEM_LIMIT / CPU_LIMIT environment variables. Enforced: memory here by ExplorerSpawner's
# RLIMIT_DATA (per process); both memory and CPU, for the whole user, under Kubernetes
# (deploy/kubernetes/values.yaml) or with jupyterhub-systemdspawner. The CPU limit is not
# enforced here: voila.py's OMP_NUM_THREADS=1 keeps each kernel's compute to one thread.
_mem = os.environ.get("EXPLORER_HUB_MEM_LIMIT", "1G")  # 1G, 512M, or bytes
c.Spawner.mem_limit = int(_mem) if _mem.isdigit() else _mem
c.Spawner.cpu_limit = float(os.environ.get("EXPLORER_HUB_CPU_LIMIT", "1"))

# -- idle servers are stopped: jupyterhub-idle-culler as a hub-managed service --------------------
# A server is idle when neither its kernels nor its pages' traffic through the proxy moved for
# EXPLORER_HUB_CULL_IDLE seconds (see deploy/README.md for what counts). Its role holds only the
# scopes it needs (JupyterHub >= 2 RBAC), not admin.
_idle = _int("EXPLORER_HUB_CULL_IDLE", 3600)
_every = _int("EXPLORER_HUB_CULL_EVERY", min(600, max(1, _idle // 2)))
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={_idle}",
            f"--cull-every={_every}",
        ],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
