"""`python -m infra.local.fake_google [--host H] [--port P]`: serve the fake Google until interrupted."""

from __future__ import annotations

import argparse
import logging
import os

from werkzeug.serving import make_server

from .app import create_app
from .config import DEFAULT_HOST, DEFAULT_PORT


def _configure_logging() -> None:
    try:
        from shared.logs import configure
    except ImportError:  # run from outside the repository: plain logs will do
        logging.basicConfig(level=logging.INFO)
    else:
        configure()


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m infra.local.fake_google", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("FAKE_GOOGLE_HOST", DEFAULT_HOST))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FAKE_GOOGLE_PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    _configure_logging()
    server = make_server(args.host, args.port, create_app(), threaded=True)
    logging.getLogger(__name__).info(
        "fake Google listening", extra={"url": f"http://{args.host}:{server.port}"}
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
