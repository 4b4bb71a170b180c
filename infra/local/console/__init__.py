"""The local console: the demo clinic and its Google account side by side, in the browser.

A small Flask app that plays the clinic app (profiles, the master's notifications, a professional's week
agenda written to Firestore) and the user in Google Calendar (the fake Google's `DASI eCLINIC` calendar,
edited with the user's own token), and shows each link's sync health. `make run` serves it at
http://127.0.0.1:8070/; on its own:

    python -m infra.local.console --port 8070
"""

from infra.local.console.app import create_app
from infra.local.console.settings import ConsoleSettings

__all__ = ["ConsoleSettings", "create_app"]
