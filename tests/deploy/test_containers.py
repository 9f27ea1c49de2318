"""The images build and run here: podman (runc, the project's containers.conf) builds every
component's image from deploy/Dockerfile on a Debian bookworm base made offline with
debootstrap (cached between runs), the stack runs with each component in a container of its
image (read-only, non-root) against this machine's PostgreSQL, RabbitMQ and Redis, a customer
walks through it, and one component restarted with SIGTERM under light load fails no request
and loses no message. Then compose.yaml runs with podman-compose (PostgreSQL, RabbitMQ, Redis
and the SMTP sink from Debian's packages: deploy/podman/compose.offline.yaml) from the same
images, a customer walks through it, and `down -v` leaves nothing behind. Image sizes and the
time each part took are printed (pytest -s).

Slow (minutes; the first run on a machine also installs podman, runc and debootstrap with
apt and makes the base image): ``make test-containers`` runs it alone."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import aiohttp
import pytest

from tests.deploy import containers
from tests.e2e.client import Api, expect
from tests.e2e.data import load_customers
from tests.e2e.journeys import onboard, register
from tests.e2e.stack import Stack, running_stack
from tests.support.infra import Services

pytestmark = [pytest.mark.containers, pytest.mark.timeout(2400)]

RESTARTED = "notifier"  # restarted under load: its queue must keep what came meanwhile


def _say(text: str) -> None:
    print(f"[containers] {text}", flush=True)


@pytest.fixture(scope="module")
def images() -> dict[str, int]:
    """Every component's image, built; their sizes in bytes."""
    started = time.monotonic()
    installed = containers.ensure_tools()
    if installed:
        _say(f"installed with apt: {', '.join(installed)} ({time.monotonic() - started:.0f} s)")
    began = time.monotonic()
    how = containers.ensure_base()
    _say(f"base image {containers.BASE_IMAGE}: {how} ({time.monotonic() - began:.0f} s)")
    sizes = {}
    for component in containers.IMAGES:
        seconds = containers.build(component)
        sizes[component] = containers.size(containers.image(component))
        megabytes = sizes[component] / 1e6
        _say(f"built {containers.image(component)}: {megabytes:.0f} MB ({seconds:.0f} s)")
    _say(f"images ready in {time.monotonic() - started:.0f} s")
    return sizes


@pytest.fixture(scope="module")
async def stack(
    images: dict[str, int],
    services: Services,
    amqp_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    workdir = tmp_path_factory.mktemp("containers")
    began = time.monotonic()
    async with running_stack(
        services.pg_admin_dsn,
        amqp_url,
        workdir,
        ready_timeout=180,
        make_local=containers.ContainerStack,
    ) as running:
        _say(f"stack up in containers in {time.monotonic() - began:.0f} s")
        yield running


@pytest.fixture(scope="module")
async def api(stack: Stack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        yield Api(http, stack.api)


async def test_every_component_runs_in_its_container(stack: Stack, images: dict[str, int]) -> None:
    local = stack.local
    assert isinstance(local, containers.ContainerStack)
    split = containers.SPLIT
    expected = {f"ebok-{local.run_id}-{c}-serve": c for c in containers.IMAGES}
    expected |= {f"ebok-{local.run_id}-{split}-{role}-serve": split for role in ("worker", "relay")}
    assert containers.running(local.run_id) == sorted(expected)
    # The image is the one built here, its process not root, its root file system read-only.
    for name, component in expected.items():
        inspected = containers._run(
            "podman",
            "inspect",
            "--format",
            "{{.ImageName}} {{.Config.User}} {{.HostConfig.ReadonlyRootfs}}",
            name,
        ).split()
        assert inspected == [containers.image(component), "10001:10001", "true"], inspected
    # The split component's roles: the api needs no broker, the worker and the relay do.
    async with aiohttp.ClientSession() as http:
        for name, checks in (
            (split, {"database": "ok"}),
            (f"{split}-worker", {"database": "ok", "broker": "ok"}),
            (f"{split}-relay", {"database": "ok", "broker": "ok"}),
        ):
            async with http.get(stack.component(name).ready_url) as reply:
                assert reply.status == 200
                assert (await reply.json())["checks"] == checks, name


async def test_a_customer_walks_through(stack: Stack, api: Api, tmp_path: Path) -> None:
    """Registration, the activation e-mail in the sink, login, the dashboard, a reading (to the
    split readings: its worker applied billing's events, its api takes the reading), a page."""
    await _walk(stack, api, "730001", tmp_path)


async def _walk(stack: Stack, api: Api, number: str, feeds: Path) -> None:
    [me] = await load_customers(stack, [number], feeds)
    session = await onboard(api, stack, me)  # registration, the e-mail in the sink, login
    dashboard = expect(await api.get("/me/dashboard", token=session.access), 200)
    assert me.meter in str(dashboard), dashboard
    path = f"/me/meters/{me.meter}/readings"
    reading = expect(
        await api.post(
            path,
            token=session.access,
            json={"value": "12.345", "read_on": _today()},
            idempotent=True,
        ),
        201,
    )
    assert reading["status"] == "accepted", reading
    async with aiohttp.ClientSession() as http, http.get(stack.portal_url + "/logowanie") as page:
        assert page.status == 200
        assert "e-BOK" in await page.text()


def _today() -> str:
    return dt.date.today().isoformat()


async def test_a_restart_with_sigterm_under_load_fails_nothing(
    stack: Stack, api: Api, tmp_path: Path
) -> None:
    first, second = await load_customers(stack, ["730101", "730102"], tmp_path)
    session = await onboard(api, stack, first)
    outcomes: list[int | str] = []
    stop = asyncio.Event()

    async def load() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            while not stop.is_set():
                for url, headers in (
                    (stack.api + "/me/dashboard", {"Authorization": f"Bearer {session.access}"}),
                    (stack.portal_url + "/logowanie", {}),
                    (stack.api + "/regulations/current", {}),
                ):
                    try:
                        async with http.get(url, headers=headers) as reply:
                            await reply.read()
                            outcomes.append(reply.status)
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        outcomes.append(type(exc).__name__)
                await asyncio.sleep(0.3)

    loader = asyncio.create_task(load())
    try:
        await asyncio.sleep(2)
        began = time.monotonic()
        child = stack.local.children[RESTARTED]
        await stack.stop_service(RESTARTED)  # SIGTERM to podman run, proxied to the app
        assert child.returncode == 0, f"{RESTARTED} did not exit cleanly: {child.returncode}"
        # While it is away, auth's event about a new registration waits in its queue.
        token_mail = asyncio.create_task(register(api, stack, second))
        await asyncio.sleep(2)
        await stack.start_service(RESTARTED)
        _say(f"{RESTARTED} stopped with SIGTERM and back in {time.monotonic() - began:.1f} s")
        assert await asyncio.wait_for(token_mail, 90)  # the activation e-mail was not lost
        # And one in the dashboard's path: readings' api (the gateway serves its kept parts).
        began = time.monotonic()
        child = stack.local.children[containers.SPLIT]
        await stack.stop_service(containers.SPLIT)
        assert child.returncode == 0, f"{containers.SPLIT} did not exit cleanly"
        await stack.start_service(containers.SPLIT)
        _say(f"{containers.SPLIT} (api) stopped and back in {time.monotonic() - began:.1f} s")
        await asyncio.sleep(2)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await loader
    failed = [o for o in outcomes if o != 200]
    assert len(outcomes) > 30 and not failed, (len(outcomes), failed)
    _say(f"{len(outcomes)} requests under the restarts, none failed")


def test_print_image_sizes(images: dict[str, int]) -> None:
    total = sum(images.values())
    for component, size in images.items():
        _say(f"image ebok-{component}: {size / 1e6:.0f} MB")
    _say(f"all images: {total / 1e6:.0f} MB (they share the base and most layers)")
    assert all(size < 400e6 for size in images.values()), images


# -- compose.yaml, last: the stack above is idle by now ----------------------------------------


@pytest.fixture(scope="module")
def compose(
    images: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[containers.ComposeStack]:
    """compose.yaml up with podman-compose, every service healthy; `down -v` after, always."""
    began = time.monotonic()
    _say(f"infrastructure images: {containers.ensure_infra()} ({time.monotonic() - began:.0f} s)")
    running = containers.ComposeStack(tmp_path_factory.mktemp("compose"))
    try:
        began = time.monotonic()
        running.up()
        _say(f"compose stack {running.project} up and healthy in {time.monotonic() - began:.0f} s")
        yield running
    finally:
        began = time.monotonic()
        running.down()
        _say(f"compose stack down in {time.monotonic() - began:.0f} s")
        assert not running.leftovers(), running.leftovers()


def test_compose_runs_every_service_from_the_images(compose: containers.ComposeStack) -> None:
    found = compose.containers()
    # The migrations ran once and finished; everything else runs, from the images built here.
    for name in containers.APP_ONE_OFF:
        assert found[name][1] == "exited:0", (name, found[name], compose.logs(name))
    serving = {*containers.INFRA, *containers.IMAGES}
    assert {s for s, (_, state) in found.items() if state.startswith("running")} == serving
    for component in containers.IMAGES:
        name, _ = found[component]
        inspected = containers._run(
            "podman",
            "inspect",
            "--format",
            "{{.ImageName}} {{.Config.User}} {{.HostConfig.ReadonlyRootfs}}",
            name,
        ).split()
        assert inspected == [containers.image(component), "10001:10001", "true"], inspected


async def test_a_customer_walks_through_compose(
    compose: containers.ComposeStack, tmp_path: Path
) -> None:
    """The same walk as above, through compose's published ports; the mail from its sink."""
    as_stack = cast(Stack, compose)  # the journeys use only what both have
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        await _walk(as_stack, Api(http, compose.api), "730201", compose.feeds)
