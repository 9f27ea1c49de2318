"""Finding (or, with Docker, starting) PostgreSQL and RabbitMQ for the tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from ebok_shared import db

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


@dataclass(frozen=True)
class Services:
    pg_admin_dsn: str
    amqp_url: str  # points at this session's own vhost


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def dsn_for(admin_dsn: str, database: str) -> str:
    parts = urlsplit(admin_dsn)
    return urlunsplit(parts._replace(path="/" + database))


@contextlib.contextmanager
def _session_vhost(amqp_url: str) -> Iterator[str]:
    """A vhost of our own when rabbitmqctl is at hand; otherwise the given one (tests still
    keep apart by their queue prefixes)."""
    parts = urlsplit(amqp_url)
    if shutil.which("rabbitmqctl") is None or parts.hostname not in ("127.0.0.1", "localhost"):
        yield amqp_url
        return
    vhost = f"ebok_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    user = parts.username or "guest"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    try:
        yield urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)


@contextlib.contextmanager
def provide() -> Iterator[Services]:
    pg = os.environ.get("EBOK_TEST_PG_DSN", DEFAULT_PG)
    amqp = os.environ.get("EBOK_TEST_AMQP_URL", DEFAULT_AMQP)
    with contextlib.ExitStack() as stack:
        missing = [
            n
            for n, u, p in (("PostgreSQL", pg, 5432), ("RabbitMQ", amqp, 5672))
            if not _reachable(u, p)
        ]
        if missing and _docker_available():
            from testcontainers.postgres import PostgresContainer
            from testcontainers.rabbitmq import RabbitMqContainer

            if "PostgreSQL" in missing:
                container = stack.enter_context(PostgresContainer("postgres:15"))
                pg = container.get_connection_url().replace("+psycopg2", "")
            if "RabbitMQ" in missing:
                rabbit = stack.enter_context(RabbitMqContainer("rabbitmq:3.13"))
                amqp = (
                    f"amqp://guest:guest@{rabbit.get_container_host_ip()}:"
                    f"{rabbit.get_exposed_port(5672)}/"
                )
        elif missing:
            pytest.exit(
                f"{' and '.join(missing)} not reachable ({pg if 'PostgreSQL' in missing else ''}"
                f" {amqp if 'RabbitMQ' in missing else ''}) and no Docker engine to start them. "
                "Start them (see README: PostgreSQL: pg_ctlcluster --skip-systemctl-redirect "
                "$(ls /etc/postgresql) main start; RabbitMQ: rabbitmq-server -detached) "
                "or set EBOK_TEST_PG_DSN / EBOK_TEST_AMQP_URL.",
                returncode=3,
            )
        vhost_url = stack.enter_context(_session_vhost(amqp))
        yield Services(pg_admin_dsn=pg, amqp_url=vhost_url)


@contextlib.asynccontextmanager
async def fresh_database(admin_dsn: str) -> AsyncIterator[str]:
    name = f"ebok_t_{uuid.uuid4().hex[:12]}"
    await db.ensure_database(admin_dsn, name)
    try:
        yield dsn_for(admin_dsn, name)
    finally:
        await db.drop_database(admin_dsn, name)
