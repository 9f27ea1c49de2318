"""Access tokens verified against the issuer's JWKS: forgeries refused, rotation followed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ebok_shared.http.tokens import InvalidToken, TokenVerifier

from tests.support import infra
from tests.support.probe_service import running_probe
from tests.support.tokens import Issuer, running_issuer


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _claims(issuer: Issuer, **extra: Any) -> dict[str, Any]:
    token = issuer.token()
    return {**json.loads(_unb64(token.split(".")[1])), **extra}


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


class JwksHits:
    """Counts the issuer's JWKS answers; ``fail`` makes the endpoint answer 503."""

    def __init__(self, issuer: Issuer) -> None:
        self.count = 0
        self.fail = False
        self._jwks: Callable[[], dict[str, Any]] = issuer.jwks
        issuer.jwks = self  # type: ignore[method-assign]  # the JWKS route calls issuer.jwks()

    def __call__(self) -> dict[str, Any]:
        self.count += 1
        if self.fail:
            raise web.HTTPServiceUnavailable()
        return self._jwks()


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    """An issuer of the test's own, free to rotate or fail."""
    async with running_issuer() as issuer:
        yield issuer


@pytest.fixture(scope="module")
async def http_issuer() -> AsyncIterator[Issuer]:
    """The issuer of the module's probe; tests over HTTP only sign with it, never change it."""
    async with running_issuer() as issuer:
        yield issuer


@pytest.fixture(scope="module")
async def client(services: infra.Services, http_issuer: Issuer) -> AsyncIterator[TestClient]:
    """One probe for the module: these tests write nothing."""
    async with (
        infra.fresh_database(services.pg_admin_dsn) as database,
        running_probe(
            database,
            services.amqp_url,
            f"t{uuid.uuid4().hex[:10]}.",
            jwks_url=http_issuer.jwks_url,
        ) as client,
    ):
        yield client


async def _whoami(client: TestClient, token: str | None, scheme: str = "Bearer") -> Any:
    headers = {} if token is None else {"Authorization": f"{scheme} {token}"}
    return await client.get("/probe/whoami", headers=headers)


async def _refused(client: TestClient, token: str) -> None:
    resp = await _whoami(client, token)
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"
    assert resp.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    body = await resp.json()
    assert body["code"] == "invalid-token"
    assert body["title"] == "Wymagane uwierzytelnienie"
    assert body["detail"] == "Token dostępu jest nieprawidłowy lub wygasł."


async def test_valid_token_reaches_the_handler_as_a_principal(
    client: TestClient, http_issuer: Issuer
) -> None:
    token = http_issuer.token("900001", kind="operator", roles=["billing", "readings"])
    resp = await _whoami(client, token)
    assert resp.status == 200
    assert await resp.json() == {
        "subject": "900001",
        "kind": "operator",
        "roles": ["billing", "readings"],
    }


@pytest.mark.parametrize(("token", "scheme"), [(None, "Bearer"), ("", "Bearer"), ("x", "Basic")])
async def test_missing_token_is_401_with_www_authenticate(
    client: TestClient, token: str | None, scheme: str
) -> None:
    resp = await _whoami(client, token, scheme)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    body = await resp.json()
    assert body["code"] == "unauthorized"
    assert body["detail"] == "Brak tokenu dostępu."


async def test_public_routes_need_no_token(client: TestClient) -> None:
    assert (await client.get("/health/live")).status == 200


async def test_alg_none_is_refused(client: TestClient, http_issuer: Issuer) -> None:
    header = {"alg": "none", "typ": "JWT", "kid": http_issuer.current}
    await _refused(client, _unsigned(header, _claims(http_issuer)) + ".")


@pytest.mark.parametrize("secret_form", ["raw", "pem", "jwk_x"])
async def test_hmac_signed_with_the_public_key_is_refused(
    client: TestClient, http_issuer: Issuer, secret_form: str
) -> None:
    public = http_issuer.keys[http_issuer.current].public_key()
    secret = {
        "raw": lambda: public.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        ),
        "pem": lambda: public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk_x": lambda: http_issuer.jwks()["keys"][0]["x"].encode(),
    }[secret_form]()
    signing_input = _unsigned(
        {"alg": "HS256", "typ": "JWT", "kid": http_issuer.current}, _claims(http_issuer)
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    await _refused(client, f"{signing_input}.{_b64(signature)}")


async def test_key_not_in_the_jwks_is_refused(client: TestClient, http_issuer: Issuer) -> None:
    await _refused(client, http_issuer.token(key=Ed25519PrivateKey.generate()))


async def test_expired_token_is_refused(client: TestClient, http_issuer: Issuer) -> None:
    await _refused(client, http_issuer.token(ttl=-60))


async def test_tampered_claims_are_refused(client: TestClient, http_issuer: Issuer) -> None:
    header, _, signature = http_issuer.token("100001").split(".")
    forged = _b64(json.dumps(_claims(http_issuer, sub="100002")).encode())
    await _refused(client, f"{header}.{forged}.{signature}")
    # the same surgery without a change still verifies: the refusal is the signature's
    header, payload, signature = http_issuer.token("100001").split(".")
    assert (await _whoami(client, f"{header}.{payload}.{signature}")).status == 200


@pytest.mark.parametrize("claim", [{"iss": "someone-else"}, {"aud": "another-app"}])
async def test_wrong_issuer_or_audience_is_refused(
    client: TestClient, http_issuer: Issuer, claim: dict[str, Any]
) -> None:
    await _refused(client, http_issuer.token(**claim))


async def test_unknown_principal_kind_is_refused(client: TestClient, http_issuer: Issuer) -> None:
    await _refused(client, http_issuer.token(kind="robot"))


@pytest.mark.parametrize("garbage", ["not-a-token", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30."])
async def test_garbage_is_refused(client: TestClient, garbage: str) -> None:
    await _refused(client, garbage)


def _verifier(issuer: Issuer, refetch_interval: float) -> TokenVerifier:
    return TokenVerifier(
        issuer.jwks_url,
        issuer=issuer.issuer,
        audience=issuer.audience,
        refetch_interval=refetch_interval,
    )


async def test_rotated_key_is_fetched_and_old_tokens_still_verify(issuer: Issuer) -> None:
    hits = JwksHits(issuer)
    verifier = _verifier(issuer, refetch_interval=0)
    old_token = issuer.token("100001")
    assert (await verifier.verify(old_token)).subject == "100001"
    assert hits.count == 1

    new_kid = issuer.rotate()
    new_token = issuer.token("100002")
    assert json.loads(_unb64(new_token.split(".")[0]))["kid"] == new_kid
    assert (await verifier.verify(new_token)).subject == "100002"
    assert hits.count == 2  # refetched on the unknown kid
    assert (await verifier.verify(old_token)).subject == "100001"
    assert (await verifier.verify(new_token)).subject == "100002"
    assert hits.count == 2  # known kids need no fetch


async def test_unknown_kids_fetch_at_most_once_per_interval(issuer: Issuer) -> None:
    hits = JwksHits(issuer)
    verifier = _verifier(issuer, refetch_interval=3600)
    forged = [
        issuer.token(kid=uuid.uuid4().hex[:12], key=issuer.keys[issuer.current]) for _ in range(10)
    ]
    results = await asyncio.gather(*(verifier.verify(t) for t in forged), return_exceptions=True)
    assert all(isinstance(r, InvalidToken) for r in results)
    for token in forged:
        with pytest.raises(InvalidToken, match="unknown key id"):
            await verifier.verify(token)
    assert hits.count == 1
    assert (await verifier.verify(issuer.token())).kind == "customer"
    assert hits.count == 1


@pytest.mark.parametrize("failure", ["unavailable", "empty"])
async def test_a_failing_issuer_is_not_hammered(issuer: Issuer, failure: str) -> None:
    hits = JwksHits(issuer)
    if failure == "unavailable":
        hits.fail = True
    else:
        issuer.keys.clear()
    verifier = _verifier(issuer, refetch_interval=3600)
    token = issuer.token(key=Ed25519PrivateKey.generate(), kid="k1")
    results = await asyncio.gather(
        *(verifier.verify(token) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, InvalidToken) for r in results)
    for _ in range(5):
        with pytest.raises(InvalidToken):
            await verifier.verify(token)
    assert hits.count == 1


class Moment:
    """A clock for the verifier's kept tokens that the test moves."""

    def __init__(self) -> None:
        self.at = time.time()

    def __call__(self) -> float:
        return self.at


async def test_a_token_verified_before_is_refused_once_it_expires(issuer: Issuer) -> None:
    moment = Moment()
    verifier = TokenVerifier(
        issuer.jwks_url, issuer=issuer.issuer, audience=issuer.audience, leeway=5, now=moment
    )
    token = issuer.token("100001", ttl=60)
    exp = json.loads(_unb64(token.split(".")[1]))["exp"]
    assert (await verifier.verify(token)).subject == "100001"
    moment.at = exp + 4  # within the leeway: still the same principal
    assert (await verifier.verify(token)).subject == "100001"
    moment.at = exp + 5
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(token)


async def test_a_kept_token_goes_with_its_withdrawn_key(issuer: Issuer) -> None:
    verifier = _verifier(issuer, refetch_interval=0)
    old_kid = issuer.current
    old_token = issuer.token("100001")
    assert (await verifier.verify(old_token)).subject == "100001"
    issuer.rotate()
    del issuer.keys[old_kid]  # withdrawn: the JWKS no longer has it
    assert (await verifier.verify(issuer.token("100002"))).subject == "100002"  # refetched
    with pytest.raises(InvalidToken, match="unknown key id"):
        await verifier.verify(old_token)


async def test_kept_tokens_are_each_their_own_and_bounded(issuer: Issuer) -> None:
    verifier = TokenVerifier(
        issuer.jwks_url, issuer=issuer.issuer, audience=issuer.audience, kept=2
    )
    tokens = [issuer.token(str(100001 + i)) for i in range(4)]
    for _ in range(2):  # the second round verifies the ones pushed out again
        for i, token in enumerate(tokens):
            assert (await verifier.verify(token)).subject == str(100001 + i)
    assert len(verifier._verified) == 2
    header, _, signature = tokens[0].split(".")
    forged = _b64(json.dumps(_claims(issuer, sub="100009")).encode())
    with pytest.raises(InvalidToken):  # a kept token's signature proves nothing else
        await verifier.verify(f"{header}.{forged}.{signature}")
