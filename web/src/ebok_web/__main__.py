"""``python -m ebok_web`` / ``ebok-web``: serve the portal and the operator console."""

from __future__ import annotations

import argparse
import sys

from aiohttp import web
from ebok_shared import logs
from ebok_shared.config import ConfigError
from ebok_shared.loops import event_loop

from .app import create_app
from .settings import WebSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ebok-web")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve"])
    parser.parse_args(argv)
    try:
        settings = WebSettings.from_env()
    except ConfigError as exc:
        print(f"ebok-web: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure("web", settings.log_level)
    web.run_app(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        shutdown_timeout=settings.shutdown_timeout / 2,
        access_log=None,
        print=None,
        loop=event_loop(),
    )


if __name__ == "__main__":
    main()
