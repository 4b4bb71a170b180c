"""A local stand-in for Google's OAuth 2.0 and Calendar API v3, faithful to their paths, shapes and errors.

    python -m infra.local.fake_google --host 127.0.0.1 --port 8090

or, in-process: `serve(port=0) -> RunningServer` (`.url`, `.fake`, `.reset()`, `.stop()`).
The admin API is documented in `admin.py`, faults in `faults.py`, quotas in `quotas.py`.
"""

from .app import create_app
from .config import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, FakeGoogleConfig
from .server import RunningServer, serve

__all__ = [
    "LOCAL_CLIENT_ID",
    "LOCAL_CLIENT_SECRET",
    "FakeGoogleConfig",
    "RunningServer",
    "create_app",
    "serve",
]
