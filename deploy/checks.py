"""Before the local run starts anything: are PostgreSQL and RabbitMQ there, are our ports free,
and does each service have its database."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import aio_pika
import asyncpg
from ebok_shared import db

from deploy.plan import StackConfig, all_ports

__all__ = ["all_ports", "busy_ports", "ensure_database", "infrastructure"]

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_RABBITMQ = "rabbitmq-server -detached"
START_REDIS = "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
_TIMEOUT = 10.0


def _endpoint(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _not_reachable(what: str, host: str, port: int, start: str, variable: str) -> str:
    if host in ("127.0.0.1", "localhost", "::1"):
        how = f"Start it with:\n    {start}\nthen run this again."
    else:
        how = f"Check that it runs there, or point {variable} at one that does."
    return f"{what} is not reachable at {host}:{port}. {how}"


async def infrastructure(config: StackConfig) -> list[str]:
    """One message per unreachable or unusable dependency, saying how to fix it."""
    problems = []
    pg_host, pg_port = _endpoint(config.pg_url, 5432)
    mq_host, mq_port = _endpoint(config.amqp_url, 5672)
    if not _port_open(pg_host, pg_port):
        problems.append(
            _not_reachable("PostgreSQL", pg_host, pg_port, START_POSTGRES, "EBOK_LOCAL_PG_URL")
        )
    else:
        try:
            conn = await asyncpg.connect(config.pg_url, timeout=_TIMEOUT)
            await conn.close()
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            problems.append(f"PostgreSQL at {pg_host}:{pg_port} refused us: {exc}")
    if not _port_open(mq_host, mq_port):
        problems.append(
            _not_reachable("RabbitMQ", mq_host, mq_port, START_RABBITMQ, "EBOK_LOCAL_AMQP_URL")
        )
    else:
        try:
            connection = await asyncio.wait_for(aio_pika.connect(config.amqp_url), _TIMEOUT)
            await connection.close()
        except (OSError, aio_pika.exceptions.AMQPError, TimeoutError) as exc:
            problems.append(
                f"RabbitMQ at {mq_host}:{mq_port} refused us ({type(exc).__name__}: {exc}). "
                "If it has just been started, wait a few seconds and run this again."
            )
    redis_host, redis_port = _endpoint(config.redis_url, 6379)
    if not _port_open(redis_host, redis_port):
        problems.append(
            _not_reachable("Redis", redis_host, redis_port, START_REDIS, "EBOK_LOCAL_REDIS_URL")
        )
    return problems


def busy_ports(config: StackConfig) -> list[str]:
    """The stack's ports that something already listens on, as ``"8001 (auth)"``."""
    busy = []
    for what, port in all_ports(config).items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                busy.append(f"{port} ({what})")
    return busy


async def ensure_database(admin_url: str, name: str) -> bool:
    """Create the database if missing; True if it was created."""
    return await asyncio.wait_for(db.ensure_database(admin_url, name), _TIMEOUT)
