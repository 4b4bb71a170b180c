"""`python -m infra.local.console [--host H] [--port P]`: serve the console until interrupted.

It reads where the rest of the local stack is from the same variables as the functions
(FIRESTORE_EMULATOR_HOST, FUNCTIONS_BASE_URL, GOOGLE_BASE_URL, GOOGLE_CLOUD_PROJECT); `make run` sets them.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from types import FrameType

from werkzeug.serving import make_server

from infra.local.console.app import create_app
from infra.local.console.settings import ConsoleSettings
from infra.local.environment import HOST, LocalPorts
from shared import logs

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.console",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=LocalPorts.from_env().console)
    args = parser.parse_args(argv)
    # The console writes appointments: it belongs beside the emulator, never on a real project.
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        parser.error("FIRESTORE_EMULATOR_HOST must point at the Firestore emulator (make run sets it)")
    logs.configure()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access-log line per poll
    settings = ConsoleSettings.from_env(host=args.host, port=args.port)
    server = make_server(args.host, args.port, create_app(settings), threaded=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    log.info("console listening", extra={"url": settings.console_url})
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
