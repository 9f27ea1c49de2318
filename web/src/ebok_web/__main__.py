"""``python -m ebok_web`` / ``ebok-web``: serve the portal and the operator console."""

from __future__ import annotations

import argparse

from ebok_shared.serving import load_settings, serve

from .app import create_app
from .settings import WebSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ebok-web")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve"])
    parser.parse_args(argv)
    settings = load_settings("web", WebSettings)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
