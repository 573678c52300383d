"""A JupyterLab 4 server made of Debian's jupyter_server 1.23 and jupyterlab_server 2.16.

PyPI's `jupyterlab` cannot be installed here, so the frontend is the webpack-built app from
ui-tests/app, served by a LabServerApp subclass. Prebuilt (federated) extensions are found in the
labextensions directories given, exactly as a user's `jupyter lab` finds them after an install.

Environment:
  TSP_LAB_APP_DIR         the built app (static files, schemas/, themes/)
  TSP_LAB_EXTENSIONS      labextensions directories, os.pathsep-separated
  TSP_LAB_STATE_DIR       where user settings and workspaces go (a fresh temp dir per run)
Other options are jupyter_server's own (--port, --ServerApp.token, --ServerApp.root_dir, ...).
"""
import json
import os
import sys

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyterlab_server import LabServerApp
from tornado import web, websocket

HERE = os.path.dirname(os.path.abspath(__file__))

# Configuration files on disk (Debian's, the user's) must not change what this server does.
os.environ["JUPYTER_NO_CONFIG"] = "1"


def _required_env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"tsp_lab_server: {name} is not set")
    return value


def _jupyter_server_extension_points():
    return [{"module": __name__, "app": TsparallelLabApp}]


class MeHandler(APIHandler):
    """jupyter_server 1.23 predates the identity API that JupyterLab 4 asks for at start-up."""

    @web.authenticated
    def get(self):
        identity = {
            "username": "tsparallel",
            "name": "tsparallel",
            "display_name": "tsparallel",
            "initials": "TS",
            "avatar_url": None,
            "color": None,
        }
        self.finish(json.dumps({"identity": identity, "permissions": {}}))


class EventsHandler(APIHandler):
    """The event bus is absent in 1.23: accept events and drop them."""

    @web.authenticated
    def post(self):
        self.set_status(204)
        self.finish()


class EventsSubscribeHandler(JupyterHandler, websocket.WebSocketHandler):
    """Without this stand-in the frontend reconnects to /api/events/subscribe in a loop."""

    @web.authenticated
    async def get(self, *args, **kwargs):
        await super().get(*args, **kwargs)

    def on_message(self, message):
        pass


class TsparallelLabApp(LabServerApp):
    name = "tsp_lab"
    app_name = "JupyterLab"
    app_url = "/lab"
    default_url = "/lab"
    load_other_extensions = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        app_dir = _required_env("TSP_LAB_APP_DIR")
        state_dir = _required_env("TSP_LAB_STATE_DIR")
        self.static_dir = app_dir
        self.schemas_dir = os.path.join(app_dir, "schemas")
        self.themes_dir = os.path.join(app_dir, "themes")
        self.templates_dir = os.path.join(HERE, "templates")
        self.app_settings_dir = os.path.join(state_dir, "app-settings")
        self.user_settings_dir = os.path.join(state_dir, "user-settings")
        self.workspaces_dir = os.path.join(state_dir, "workspaces")
        # Debian's own system labextensions are built for another JupyterLab: keep them out.
        self.labextensions_path = []
        self.extra_labextensions_path = [
            p for p in os.environ.get("TSP_LAB_EXTENSIONS", "").split(os.pathsep) if p
        ]

    def initialize_templates(self):
        self.static_paths = [self.static_dir]
        self.template_paths = [self.templates_dir]

    def initialize_handlers(self):
        self.handlers.extend(
            [
                (r"/api/me", MeHandler),
                (r"/api/events", EventsHandler),
                (r"/api/events/subscribe", EventsSubscribeHandler),
            ]
        )
        super().initialize_handlers()


if __name__ == "__main__":
    TsparallelLabApp.launch_instance()
