"""jupyter_server's configuration for each user's server under JupyterHub.

The spawner puts this folder on JUPYTER_CONFIG_PATH (deploy/jupyterhub/jupyterhub_config.py for
the local demo, singleuser.extraEnv in deploy/kubernetes/values.yaml), so the user's server loads
this file at start.

Under JupyterHub, Voilà is not its own application but a jupyter_server extension of each user's
server. That extension would read only the VoilaConfiguration part of a voila.py in the folder the
server starts in (the user's home here), and nothing else of it. This file applies the
repository's voila.py to the whole server, so the served app behaves as `make serve`'s does: code
and tracebacks stripped, no files served by /voila/files/, idle kernels culled, one compute
thread per kernel. What stays the standalone app's own: deploy/README.md.
"""

from pathlib import Path

from jupyter_server.serverapp import ServerApp
from traitlets.config import PyFileConfigLoader

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

# deploy/jupyterhub/singleuser/ -> the repository root (/home/jovyan in a repo2docker image)
REPO = Path(__file__).resolve().parents[3]
# The standalone app's own address: here the hub chooses the server's address and URL prefix.
HUB_MANAGED = {"ip", "port", "open_browser", "base_url"}

# Loading voila.py also runs it: its os.environ.setdefault(OMP_NUM_THREADS, ...) lines set the
# thread limits in this server's environment, which every kernel it starts inherits.
_voila = PyFileConfigLoader("voila.py", path=str(REPO)).load_config()
# The `Voila` section configures the standalone app, which is not running here. Its settings that
# are also the server's (the websocket connection class, say) go to this server's ServerApp.
_server_traits = set(ServerApp.class_trait_names(config=True))
for _name, _value in _voila.pop("Voila", {}).items():
    if _name in _server_traits and _name not in HUB_MANAGED:
        c.ServerApp[_name] = _value
# Every other section as it is: VoilaConfiguration and VoilaExecutor reach the extension (it is
# configured from its server's config), MappingKernelManager and the kernel provisioner reach
# this server's kernels. Sections of classes that only the standalone app has are ignored.
c.merge(_voila)
