"""``make run`` / ``python -m deploy.local``: the whole of e-BOK on this machine.

Checks that PostgreSQL and RabbitMQ answer, creates each service's database, runs every
service's ``migrate``, starts the SMTP sink, the services, the gateway and the portal (web) as
child processes (their output prefixed with their names), waits until each answers
``/health/ready``, prints their addresses, loads demo data through billing's feed and prints a
demo client. Ctrl-C or SIGTERM stops the portal and the gateway, then the services, then the
sink (SIGTERM, then SIGKILL after a timeout) and exits 0. Pressing Ctrl-C again while it stops
kills what is left at once.

Options, each a flag or an environment variable:

  --base-port      EBOK_LOCAL_BASE_PORT      8000; every port moves with it (see deploy.plan)
  --bus-prefix     EBOK_LOCAL_BUS_PREFIX     none; queue and exchange names start with it
  --db-prefix      EBOK_LOCAL_DB_PREFIX      ebok_; databases are <prefix><service>
  --pg-url         EBOK_LOCAL_PG_URL         postgresql://postgres@127.0.0.1:5432/postgres
  --amqp-url       EBOK_LOCAL_AMQP_URL       amqp://guest:guest@127.0.0.1:5672/
  --maildir        EBOK_LOCAL_MAILDIR        var/mail (where the SMTP sink keeps mail)
  --log-level      EBOK_LOCAL_LOG_LEVEL      INFO
  --ready-timeout  EBOK_LOCAL_READY_TIMEOUT  90 seconds for everything to become ready
  --stop-timeout   EBOK_LOCAL_STOP_TIMEOUT   30 seconds per group before SIGKILL
  --demo-clients   EBOK_LOCAL_DEMO_CLIENTS   20 demo clients loaded by billing (0: none)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from deploy import checks
from deploy.demo import print_demo_admin, seed_demo_data
from deploy.plan import PAYU_SANDBOX, SERVICES, SINK, Component, StackConfig, plan
from deploy.processes import Child, Output, run_to_end, terminate

ME = "local"
READY = "Ctrl-C stops everything."  # the last line of the start-up; tests wait for it
EXIT_STOPPED = 0
EXIT_FAILED = 1
EXIT_NOT_READY_TO_START = 2
# SIGHUP too: the children have sessions of their own, so a closed terminal reaches only us.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StartupFailed(Exception):
    def __init__(self, message: str, children: Sequence[Child] = ()) -> None:
        super().__init__(message)
        self.children = list(children)


class LocalStack:
    """The running stack: children by name, started and stopped in order."""

    def __init__(self, config: StackConfig, output: Output) -> None:
        self.config = config
        self.output = output
        self.components = plan(config)
        self.children: dict[str, Child] = {}  # the serving processes, by name
        self._made: dict[str, Child] = {}  # every process made, by "name:command"

    def say(self, text: str) -> None:
        self.output.line(ME, text)

    # -- start --------------------------------------------------------------------------------
    async def prepare(self) -> None:
        """Databases and migrations, before anything serves."""
        with_db = [c for c in self.components if c.database]
        for component in with_db:
            assert component.database is not None
            if await checks.ensure_database(self.config.pg_url, component.database):
                self.say(f"created database {component.database}")
        self.say("applying migrations")
        codes = await asyncio.gather(*(run_to_end(self._child(c, "migrate")) for c in with_db))
        failed = [c for c, code in zip(with_db, codes, strict=True) if code != 0]
        if failed:
            raise StartupFailed(
                "migrations failed for " + ", ".join(c.name for c in failed),
                [self._child(c, "migrate") for c in failed],
            )

    async def start(self) -> None:
        for component in self.components:
            child = self._child(component, "serve")
            await child.start()
            self.children[component.name] = child
            self.say(f"started {component.name} (pid {child.pid}) on {component.url}")

    async def wait_ready(self) -> None:
        started = time.monotonic()
        deadline = started + self.config.ready_timeout
        pending = {c.name: c for c in self.components}
        last: dict[str, str] = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while pending:
                for name, component in sorted(pending.items()):
                    child = self.children[name]
                    if child.returncode is not None:
                        await child.wait()
                        raise StartupFailed(
                            f"{name} exited with code {child.returncode} before it was ready",
                            [child],
                        )
                    last[name] = await _probe(http, component.ready_url)
                    if last[name] == "200":
                        del pending[name]
                        self.say(f"{name} is ready ({time.monotonic() - started:.1f} s)")
                if pending and time.monotonic() > deadline:
                    raise StartupFailed(
                        "not ready within "
                        f"{self.config.ready_timeout:.0f} s: "
                        + "; ".join(
                            f"{n} ({pending[n].ready_url} answered: {last.get(n, 'nothing')})"
                            for n in sorted(pending)
                        ),
                        [self.children[n] for n in sorted(pending)],
                    )
                if pending:
                    await asyncio.sleep(0.3)

    def _child(self, component: Component, command: str) -> Child:
        argv = [sys.executable, "-m", component.module]
        if component.kind != "sink":
            argv.append(command)
        key = f"{component.name}:{command}"
        if key not in self._made:
            self._made[key] = Child(component.name, argv, component.env, self.output)
        return self._made[key]

    # -- stop ---------------------------------------------------------------------------------
    async def stop(self, hurry: asyncio.Event | None = None) -> None:
        """Web first, then the gateway, the services, the sink; each group SIGTERM then SIGKILL."""
        for kind in ("web", "gateway", "service", "sink"):
            group = [
                self.children[c.name]
                for c in self.components
                if c.kind == kind and c.name in self.children
            ]
            for child in await terminate(group, self.config.stop_timeout, hurry):
                self.say(f"{child.name} did not stop in time and was killed")

    def kill_all_now(self) -> None:
        for child in self._made.values():
            child.kill_now()

    # -- report -------------------------------------------------------------------------------
    def print_addresses(self) -> None:
        by_name = {c.name: c for c in self.components}
        rows = [("portal (open this)", by_name["web"].url, "")]
        rows += [("gateway (API)", by_name["gateway"].url, by_name["gateway"].database or "")]
        rows += [(n, by_name[n].url, by_name[n].database or "") for n in SERVICES]
        smtp = f"smtp://127.0.0.1:{self.config.port('sink-smtp')}"
        rows += [("SMTP sink (SMTP)", smtp, ""), ("SMTP sink (mail)", by_name[SINK].url, "")]
        rows += [("payment sandbox", by_name[PAYU_SANDBOX].url, "")]
        out = self.output
        out.plain()
        out.plain("e-BOK is ready.")
        out.plain()
        out.plain(f"  {'component':<20} {'address':<28} database")
        for name, url, database in rows:
            out.plain(f"  {name:<20} {url:<28} {database}".rstrip())
        out.plain()
        out.plain(f"  bus prefix: {self.config.bus_prefix or '(none)'}")
        out.plain(f"  mail kept in: {self.config.maildir}")
        out.plain("  each service also answers /health/live, /health/ready and /metrics")
        out.plain()
        out.plain(f"  Open the portal: {by_name['web'].url}")
        out.plain()


async def _probe(http: aiohttp.ClientSession, url: str) -> str:
    """``"200"`` when ready; otherwise what came back, for the message if it never is."""
    try:
        async with http.get(url) as response:
            if response.status == 200:
                return "200"
            body = (await response.text())[:200]
            return f"HTTP {response.status} {body}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__ + (f": {exc}" if str(exc) else "")


def _show_failure(stack: LocalStack, failure: StartupFailed) -> None:
    stack.say(f"FAILED: {failure}")
    for child in failure.children:
        stack.say(f"last lines of {child.name}:")
        for line in child.last_lines or ["(no output)"]:
            stack.output.plain(f"    {line}")


async def run(config: StackConfig, output: Output | None = None) -> int:
    output = output or Output(width=max(len(n) for n in (*SERVICES, SINK, "gateway", "web", ME)))
    stack = LocalStack(config, output)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hurry = asyncio.Event()
    first_signal_at = [0.0]

    def on_signal(sig: signal.Signals) -> None:
        # ``uv run`` forwards the terminal's Ctrl-C a second time at once: only a later
        # signal means "hurry up".
        if not stop.is_set():
            first_signal_at[0] = time.monotonic()
            stack.say(f"{sig.name}: stopping (press Ctrl-C again to kill at once)")
            stop.set()
        elif time.monotonic() - first_signal_at[0] > 1.0 and not hurry.is_set():
            stack.say(f"{sig.name} again: killing what is left")
            hurry.set()

    for sig in _STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        problems = await checks.infrastructure(config)
        if problems:
            for problem in problems:
                output.plain(problem)
            return EXIT_NOT_READY_TO_START
        busy = checks.busy_ports(config)
        if busy:
            stack.say("these ports are already taken: " + ", ".join(busy))
            stack.say("is another stack running? Move this one with --base-port.")
            return EXIT_NOT_READY_TO_START
        return await _run_until_stopped(stack, stop, hurry)
    finally:
        stack.kill_all_now()
        for sig in _STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def _run_until_stopped(stack: LocalStack, stop: asyncio.Event, hurry: asyncio.Event) -> int:
    async def bring_up() -> None:
        await stack.prepare()
        await stack.start()
        await stack.wait_ready()
        stack.print_addresses()
        by_name = {c.name: c for c in stack.components}
        await seed_demo_data(
            by_name["billing"], by_name["readings"], stack.config.demo_clients, stack.output
        )
        print_demo_admin(stack.output, by_name["web"].url.rstrip("/") + "/operator/")
        stack.output.plain(READY)

    startup = asyncio.create_task(bring_up())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({startup, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not startup.done():  # Ctrl-C while starting: stop what is there
            startup.cancel()
            with contextlib.suppress(asyncio.CancelledError, StartupFailed):
                await startup
            await stack.stop(hurry)
            stack.say("stopped")
            return EXIT_STOPPED
        try:
            startup.result()
        except StartupFailed as failure:
            _show_failure(stack, failure)
            await stack.stop(hurry)
            return EXIT_FAILED
        exits = {asyncio.ensure_future(child.wait()) for child in stack.children.values()}
        done, _ = await asyncio.wait({stopped, *exits}, return_when=asyncio.FIRST_COMPLETED)
        for future in exits:
            future.cancel()
        if stopped in done:
            await stack.stop(hurry)
            stack.say("all stopped")
            return EXIT_STOPPED
        dead = [child for child in stack.children.values() if not child.running]
        message = ", ".join(f"{c.name} exited with code {c.returncode}" for c in dead)
        _show_failure(stack, StartupFailed(f"{message}; stopping the others", dead))
        await stack.stop(hurry)
        return EXIT_FAILED
    finally:
        stopped.cancel()


def parse_args(argv: Sequence[str] | None = None) -> StackConfig:
    env = os.environ
    default = StackConfig()

    def opt(name: str, fallback: object) -> str:
        return env.get(f"EBOK_LOCAL_{name}", str(fallback))

    parser = argparse.ArgumentParser(
        prog="python -m deploy.local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--base-port", type=int, default=int(opt("BASE_PORT", default.base_port)))
    parser.add_argument("--bus-prefix", default=opt("BUS_PREFIX", default.bus_prefix))
    parser.add_argument("--db-prefix", default=opt("DB_PREFIX", default.db_prefix))
    parser.add_argument("--pg-url", default=opt("PG_URL", default.pg_url))
    parser.add_argument("--amqp-url", default=opt("AMQP_URL", default.amqp_url))
    parser.add_argument("--redis-url", default=opt("REDIS_URL", default.redis_url))
    parser.add_argument("--maildir", type=Path, default=Path(opt("MAILDIR", default.maildir)))
    parser.add_argument(
        "--log-level",
        default=opt("LOG_LEVEL", default.log_level),
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=float(opt("READY_TIMEOUT", default.ready_timeout))
    )
    parser.add_argument(
        "--stop-timeout", type=float, default=float(opt("STOP_TIMEOUT", default.stop_timeout))
    )
    parser.add_argument(
        "--demo-clients", type=int, default=int(opt("DEMO_CLIENTS", default.demo_clients))
    )
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.db_prefix):
        parser.error(
            "--db-prefix: lower-case letters, digits and _ only, not starting with a digit"
        )
    config = StackConfig(
        base_port=args.base_port,
        bus_prefix=args.bus_prefix,
        db_prefix=args.db_prefix,
        pg_url=args.pg_url,
        amqp_url=args.amqp_url,
        redis_url=args.redis_url,
        maildir=args.maildir.resolve(),
        log_level=args.log_level,
        ready_timeout=args.ready_timeout,
        stop_timeout=args.stop_timeout,
        demo_clients=args.demo_clients,
    )
    bad = [
        f"{what} {port}" for what, port in checks.all_ports(config).items() if not 0 < port < 65536
    ]
    if bad:
        parser.error(f"--base-port {args.base_port} puts ports out of range: {', '.join(bad)}")
    return config


def main(argv: Sequence[str] | None = None) -> None:
    config = parse_args(argv)
    raise SystemExit(asyncio.run(run(config)))


if __name__ == "__main__":
    main()
