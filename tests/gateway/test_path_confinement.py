"""Path confinement (ASVS 4.0.3 L2 review, issue #15 item 1; issue #14 item 2): the gateway
forwards exactly the route it matched, each path parameter checked against its own pattern
and re-encoded as one segment, so an encoded "/" (%2F), ".." or NUL in a parameter never
reaches another path of the owning service (its /metrics, /health/ready, hidden items).

A contract number holds "/" by design (U/100002/2023): it travels encoded, and billing's links
are written so; the stand-in service sees the encoded number as one segment.
"""

from __future__ import annotations

from yarl import URL

from tests.gateway.conftest import Stack

# Each tries to leave its route: up to the service's root, to its metrics or readiness.
ESCAPES = (
    "..%2F..%2Fmetrics",
    "%2e%2e%2F%2e%2e%2Fhealth%2Fready",
    "12345626010001%2F..%2F..%2F..%2Fmetrics",
    "12345626010001%00",
    "U%2F100002%2F2023%2F..%2F..%2F..%2F..%2Fmetrics",
)


def _url(stack: Stack, path: str) -> URL:
    """The URL exactly as written (no client-side decoding or dot-segment resolution)."""
    return stack.gw.make_url("").join(URL(path, encoded=True))


async def _get(stack: Stack, path: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    async with stack.gw.session.get(_url(stack, path), headers=headers) as resp:
        assert resp.content_type in ("application/json", "application/problem+json")
        return resp.status, await resp.json()


TEMPLATES = (
    "/api/v1/me/invoices/{}",
    "/api/v1/me/invoices/{}/pdf",
    "/api/v1/me/contracts/{}",
    "/api/v1/me/contracts/{}/document",
    "/api/v1/me/meters/{}/readings",
    "/api/v1/me/correspondence/{}",
    "/api/v1/me/correspondence/{}/attachments/5c3a4fcb-6d1e-4d1a-9d5e-2f0c1a7b8e90",
)


async def test_a_parameter_that_does_not_match_its_pattern_is_refused_before_forwarding(
    stack: Stack,
) -> None:
    for template in TEMPLATES:
        for value in ESCAPES:
            status, problem = await _get(
                stack, template.format(value), stack.issuer.customer("123456")
            )
            assert status == 400, (template, value, problem)
            assert problem["code"] == "bad-parameter"
            # a problem is a dict[str, object]; its errors are a list of dicts
            field = problem["errors"][0]["field"]  # type: ignore[index]
            # A NUL anywhere in the path is refused at the door (the shared request guard).
            assert field in ("number", "serial", "case_id", "(path)"), field
    assert stack.raw == [], "the gateway called a service"


async def test_a_public_route_is_confined_too(stack: Stack) -> None:
    for value in ESCAPES:
        status, problem = await _get(stack, f"/api/v1/regulations/{value}/changes", {})
        assert status == 400, problem
        # errors is object-typed in the problem dict; compared to its real shapes
        assert problem["errors"] in (  # type: ignore[comparison-overlap]
            [{"field": "version", "reason": "nieprawidłowa wartość parametru ścieżki"}],
            [{"field": "(path)", "reason": "niedozwolony znak w adresie"}],  # the NUL
        )
    assert stack.raw == []


async def test_a_contract_number_travels_encoded_as_one_segment(stack: Stack) -> None:
    """The link billing gives (/me/contracts/U%2F100002%2F2023/document) works as given: the
    service is called at that path, the number one segment, encoded."""
    for tail in ("", "/document"):
        status, body = await _get(
            stack, f"/api/v1/me/contracts/U%2F100002%2F2023{tail}", stack.issuer.customer("123456")
        )
        assert status == 200, body
        assert body["raw_path"] == f"/me/contracts/U%2F100002%2F2023{tail}"
    assert stack.raw == [
        "/me/contracts/U%2F100002%2F2023",
        "/me/contracts/U%2F100002%2F2023/document",
    ]


async def test_a_valid_parameter_is_forwarded_at_its_route_only(stack: Stack) -> None:
    status, body = await _get(
        stack, "/api/v1/me/invoices/12345626010001/pdf", stack.issuer.customer("123456")
    )
    assert status == 200
    assert body["raw_path"] == "/me/invoices/12345626010001/pdf"


async def test_an_operator_path_outside_the_table_is_not_forwarded(stack: Stack) -> None:
    """Every operator route is in the table (no catch-all): anything else under
    /operator/<service>/ is 404 here and never reaches the service's /metrics or /health."""
    for tail in (
        "..%2F..%2Fmetrics",
        "clients%2F..%2F..%2F..%2Fhealth%2Fready",
        "%2e%2e%2Fmetrics",
        "clients/%00",
        "clients/%ff",
    ):
        status, problem = await _get(
            stack, f"/api/v1/operator/billing/{tail}", stack.issuer.operator()
        )
        assert status in (400, 404), (tail, problem)  # 400: a NUL is refused before routing
    assert stack.raw == []


async def test_an_operator_routes_parameter_stays_inside_its_segment(stack: Stack) -> None:
    for value in ("..%2F..%2Fmetrics", "%2e%2e", "x%00", "%ff"):
        status, problem = await _get(
            stack, f"/api/v1/operator/billing/feed/batches/{value}", stack.issuer.operator()
        )
        assert status == 400, (value, problem)
        assert problem["code"] == "bad-parameter"
    assert stack.raw == []
