"""Security findings of the ASVS L2 review (issue #15), on the whole stack of real processes:

- a revoked access token (logout, an operator's block) is refused by every service called
  directly — auth, billing, readings, correspondence, the notifier — within a second, as by
  the gateway (item 2);
- a refused access (a customer on an operator route, on another customer's invoice) is a
  log line of the real process naming the actor, the route and the correlation id, never
  the token (item 6);
- the links the API gives work as given through the gateway, a contract number with "/"
  included (issue #14 item 2).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.waiting import eventually

from .client import Api, expect, expect_problem
from .data import Customer, load_customers
from .journeys import Session, log_in, onboard
from .stack import Stack

pytestmark = pytest.mark.timeout(300)

OWNER, NEIGHBOUR, BLOCKED = "731001", "731002", "731003"
SECOND = 1.0  # "within 1 second": a bounded wait, polled
# Each service's own customer route, called directly (not through the gateway).
DIRECT = {
    "auth": "/me",
    "billing": "/me/invoices",
    "readings": "/me/meters",
    "correspondence": "/me/correspondence",
    "notifier": "/me/export",
}


@pytest.fixture(scope="module")
async def customers(stack: Stack, workdir: Path) -> dict[str, Customer]:
    loaded = await load_customers(stack, [OWNER, NEIGHBOUR, BLOCKED], workdir)
    return {c.client_number: c for c in loaded}


@pytest.fixture(scope="module")
async def owner(api: Api, stack: Stack, customers: dict[str, Customer]) -> Session:
    return await onboard(api, stack, customers[OWNER])


def _direct(api: Api, stack: Stack, service: str) -> Api:
    return Api(api.http, f"http://127.0.0.1:{stack.config.port(service)}")


async def _refused_everywhere_within_a_second(api: Api, stack: Stack, token: str) -> None:
    """Every service, asked directly with ``token``, answers 401 within a second."""
    pending = set(DIRECT)

    async def all_refused() -> bool:
        for service in sorted(pending):
            reply = await _direct(api, stack, service).get(DIRECT[service], token=token)
            if reply.status == 401:
                expect_problem(reply, 401)
                pending.discard(service)
        return not pending

    started = time.monotonic()
    await eventually(
        all_refused,
        f"the revoked token refused by {sorted(pending)}",
        within=SECOND,
        step=0.02,
    )
    waited = time.monotonic() - started
    print(f"revoked token refused by every service {waited * 1000:.0f} ms after")  # -s


async def _accepted_everywhere(api: Api, stack: Stack, token: str) -> None:
    for service, path in DIRECT.items():
        reply = await _direct(api, stack, service).get(path, token=token)
        assert reply.status == 200, (service, str(reply))


async def test_a_logged_out_token_is_refused_by_every_service_within_a_second(
    api: Api, stack: Stack, owner: Session
) -> None:
    ending = str((await log_in(api, owner.login, owner.password))["access_token"])
    await _accepted_everywhere(api, stack, ending)

    expect(await api.delete("/sessions/current", token=ending), 204)
    await _refused_everywhere_within_a_second(api, stack, ending)
    await _accepted_everywhere(api, stack, owner.access)  # another session of theirs stays


async def test_a_blocked_customers_token_is_refused_by_every_service_within_a_second(
    api: Api, stack: Stack, customers: dict[str, Customer], operator: Session
) -> None:
    victim = await onboard(api, stack, customers[BLOCKED])
    await _accepted_everywhere(api, stack, victim.access)
    expect(
        await api.post(
            f"/operator/auth/accounts/{victim.login}/block",
            token=operator.access,
            json={"reason": "Korzystanie z e-BOK niezgodnie z Regulaminem (pkt IV.3)."},
        ),
        200,
    )
    await _refused_everywhere_within_a_second(api, stack, victim.access)


def _logged(stack: Stack, correlation_id: str) -> list[tuple[str, dict[str, object]]]:
    """The JSON lines of every process that carry ``correlation_id``: (component, line)."""
    found = []
    for text in stack.log_path.read_text("utf-8", errors="replace").splitlines():
        component, _, rest = text.partition(" | ")
        if correlation_id in rest and rest.startswith("{"):
            found.append((component.strip(), json.loads(rest)))
    return found


async def test_refused_access_is_logged_by_the_real_processes(
    api: Api, stack: Stack, customers: dict[str, Customer]
) -> None:
    neighbour = await onboard(api, stack, customers[NEIGHBOUR])
    theirs = customers[OWNER].invoice_number
    # (path, status, the processes that refuse it: the gateway, and the owner of the data)
    attempts = {
        "operator route": ("/operator/auth/accounts/" + OWNER, 403, {"gateway"}),
        "another's invoice": (f"/me/invoices/{theirs}", 404, {"gateway", "billing"}),
    }
    for name, (path, status, refusing) in attempts.items():
        cid = f"sec-{uuid.uuid4().hex[:12]}"
        reply = await api.get(path, token=neighbour.access, headers={"X-Correlation-Id": cid})
        expect_problem(reply, status)

        async def logged(cid: str = cid, refusing: set[str] = refusing) -> bool:
            return refusing <= {
                component
                for component, line in _logged(stack, cid)
                if line["event"] == "authorisation refused"
            }

        await eventually(logged, f"the refusal ({name}) logged", within=5.0, step=0.02)
        # (The role check adds its own "operator route refused" line, naming the role.)
        lines = [
            (c, line) for c, line in _logged(stack, cid) if line["event"] == "authorisation refused"
        ]
        assert {c for c, _ in lines} == refusing, lines
        for _component, line in lines:
            assert line["actor"] == f"customer:{neighbour.login}", line
            assert line["status"] == status and line["level"] == "warning", line
            assert line["correlation_id"] == cid
            assert neighbour.access not in json.dumps(line)
    log_text = stack.log_path.read_text("utf-8", errors="replace")
    assert neighbour.access not in log_text and neighbour.access.rsplit(".", 1)[-1] not in log_text


async def test_the_links_the_api_gives_work_as_given(api: Api, owner: Session) -> None:
    """Contract numbers hold "/" (U/731001/2021): the document link each answer gives (the
    list, the contract itself) is followed exactly as given, through the gateway."""
    token = str((await log_in(api, owner.login, owner.password))["access_token"])
    (listed,) = expect(await api.get("/me/contracts", token=token), 200)["items"]
    number = listed["contract_number"]
    assert "/" in number
    detail = expect(await api.get(f"/me/contracts/{quote(number, safe='')}", token=token), 200)
    assert detail["contract_number"] == number
    for answer in (listed, detail):
        document = await api.get(answer["document"], token=token)
        assert document.status == 200, str(document)
        assert document.content_type == "application/pdf"
        assert document.body.startswith(b"%PDF-")


async def test_answers_carry_no_store_and_no_server_header_on_every_process(
    api: Api, stack: Stack, owner: Session
) -> None:
    """Tokens and the generated password are never stored by a cache (no-store on every API
    answer), and no process names its framework and version (no Server header)."""
    login = await api.post("/sessions", json={"login": owner.login, "password": owner.password})
    refreshed = await api.post(
        "/sessions/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    activation = await api.post("/activations", json={"token": "x" * 43})
    for reply in (login, refreshed, activation):
        assert reply.status < 500, str(reply)
        assert reply.headers.get("Cache-Control") == "no-store", (str(reply), reply.headers)
        assert "Server" not in reply.headers, reply.headers
    for name in (*DIRECT, "gateway"):
        reply = await _direct(api, stack, name).get("/health/live")
        assert "Server" not in reply.headers, (name, reply.headers)
    async with api.http.get(stack.portal_url + "/") as page:
        assert "Server" not in page.headers, page.headers


async def test_bad_text_in_headers_and_parameters_is_a_400_on_every_process(
    api: Api, stack: Stack, operator: Session
) -> None:
    """A non-ASCII Authorization header (every protected route, before any token is read)
    and a NUL byte in an operator's search are 400 problems, not 500s with a traceback."""
    for name, path in (*DIRECT.items(), ("gateway", "/api/v1/me/dashboard")):
        reply = await _direct(api, stack, name).get(path, headers={"Authorization": "Bearer żółw"})
        problem = expect_problem(reply, 400)
        assert problem["errors"][0]["field"] == "Authorization", (name, problem)
    searched = await api.get(
        "/operator/auth/accounts", token=operator.access, params={"q": "Kowal\x00ski"}
    )
    problem = expect_problem(searched, 400)
    assert problem["errors"] == [{"field": "q", "reason": "niedozwolony znak"}]
