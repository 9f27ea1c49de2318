"""Serving a process's aiohttp app, written once for the services (``serve``) and web: its
settings read from the environment (a configuration error: a message and exit code 2), the
logs configured, and the app run on the serving event loop with a bounded shutdown."""

from __future__ import annotations

import ctypes
import gc
import os
import sys
from typing import Protocol, Self, TypeVar

from aiohttp import web

from . import logs
from .config import ConfigError
from .loops import event_loop


class Served(Protocol):
    """What serving reads of a process's settings."""

    @property
    def http_host(self) -> str: ...
    @property
    def http_port(self) -> int: ...
    @property
    def log_level(self) -> str: ...
    @property
    def shutdown_timeout(self) -> float: ...


class Loadable(Served, Protocol):
    """Settings read from the environment (``ebok_shared.config.Settings``)."""

    @classmethod
    def from_env(cls) -> Self: ...


T = TypeVar("T", bound=Loadable)

# The cyclic collector's thresholds while serving. CPython's default (700, 10, 10) runs a
# young-generation pass every 700 net container allocations, and a request makes hundreds
# (aiohttp's request, response, headers, tasks, the services' records): under an asked
# dashboard load the gateway collected ~27 times a second, 14 % of its CPU (0.30 of 2.11 s in
# a 5 s window; billing 3.6 %), for garbage that reference counting frees anyway. At 20,000 the
# same window had no pass at all; what cycles there are (exceptions with their tracebacks,
# futures) wait for at most 20,000 net allocations, a few megabytes.
COLLECTOR_THRESHOLDS = (20_000, 20, 100)

# glibc's allocator while serving (``mallopt``; each one an operator set in the environment,
# ``MALLOC_TRIM_THRESHOLD_`` and the others, is left as set). A request that carries a file
# holds a few megabytes for a moment: the read chunks, the file joined, the driver's buffers.
# By default glibc hands the free top of its heap back to the kernel once twice its (adaptive)
# mmap threshold lies free there, a couple of megabytes, and the next request faults it in
# again page by page, zero-filled: 5.2 % of the correspondence service's CPU under
# bench/correspondence.py went to page faults and unmapping, 0.2 % with these. The heap keeps
# up to TRIM free at its top (the next request reuses it) and grows by PAD more at a time;
# allocations up to MMAP come from the heap (glibc's own ceiling for its adaptive threshold).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
ALLOCATOR = (
    (_M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", 64 * 1024 * 1024),
    (_M_TOP_PAD, "MALLOC_TOP_PAD_", 16 * 1024 * 1024),
    (_M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", 32 * 1024 * 1024),
)


def tune_allocator() -> list[str]:
    """``ALLOCATOR`` applied where glibc has ``mallopt``; the settings applied (none under
    another C library, e.g. musl)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return []
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return [
        name
        for param, name, value in ALLOCATOR
        if name not in os.environ and mallopt(param, value) == 1
    ]


def load_settings(component: str, settings_cls: type[T]) -> T:
    """``settings_cls`` from the environment, and the logs configured with them; a
    configuration error ends the process with its message and exit code 2."""
    try:
        settings = settings_cls.from_env()
    except ConfigError as exc:
        print(f"ebok-{component}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure(component, settings.log_level)
    return settings


def serve(app: web.Application, settings: Served) -> None:
    """Run ``app`` until SIGTERM/SIGINT."""
    # What startup made (modules, the app, its routes and settings) lives as long as the
    # process: frozen, no collection walks it again (a full pass walked all of it).
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    tune_allocator()
    web.run_app(
        app,
        host=settings.http_host,
        port=settings.http_port,
        # aiohttp waits this long for in-flight handlers, then as long again for the ones it
        # cancels: half each keeps the whole drain within EBOK_SHUTDOWN_TIMEOUT.
        shutdown_timeout=settings.shutdown_timeout / 2,
        access_log=None,
        print=None,
        loop=event_loop(),
    )
