"""Access tokens: what auth signs, what it (and every verifier) refuses, and key rotation."""

from __future__ import annotations

import base64
import json
import time

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ebok_auth.resources import KEYRING
from ebok_shared.http.tokens import TokenVerifier

from tests.auth.harness import Auth

PASSWORD = "Kropla-Deszczu-2026!x"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _tokens(auth: Auth) -> dict:
    await auth.client_with_invoice("100001")
    return await auth.customer("100001", PASSWORD)


async def test_access_token_claims_and_jwks_satisfy_the_shared_verifier(auth: Auth) -> None:
    tokens = await _tokens(auth)
    assert tokens["expires_in"] == 300 and tokens["token_type"] == "Bearer"
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "EdDSA" and header["kid"]
    verifier = TokenVerifier(
        str(auth.client.make_url("/.well-known/jwks.json")), issuer="ebok-auth", audience="ebok"
    )
    principal = await verifier.verify(tokens["access_token"])
    assert (principal.subject, principal.kind, principal.roles) == (
        "100001",
        "customer",
        frozenset({"customer"}),
    )
    claims = principal.claims
    assert claims["exp"] - claims["iat"] == 300 and claims["sid"]
    assert claims["restrictions"] == []
    jwks = await (await auth.client.get("/.well-known/jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == [header["kid"]]
    assert all("d" not in k for k in jwks["keys"])  # never the private part


async def test_forged_tokens_are_refused(auth: Auth) -> None:
    tokens = await _tokens(auth)
    good = tokens["access_token"]
    head, body, sig = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    kid = jwt.get_unverified_header(good)["kid"]
    now = int(time.time())
    forged = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{body}.",
        "hmac with the public key": jwt.encode(
            claims, "s" * 32, algorithm="HS256", headers={"kid": kid}
        ),
        "wrong key, right kid": jwt.encode(
            claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
        ),
        "expired": jwt.encode(
            {**claims, "iat": now - 900, "exp": now - 600},
            Ed25519PrivateKey.generate(),
            algorithm="EdDSA",
            headers={"kid": kid},
        ),
        "tampered claims": f"{head}.{_b64({**claims, 'sub': '100002'})}.{sig}",
        "unknown kid": jwt.encode(
            claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "nope"}
        ),
    }
    for name, token in forged.items():
        status, problem = await auth.call("GET", "/me", token=token)
        assert status == 401 and problem["code"] == "invalid-token", name
    assert (await auth.call("GET", "/me", token=good))[0] == 200


async def test_expired_token_signed_by_auth_is_refused(auth: Auth) -> None:
    await _tokens(auth)
    keyring = auth.app[KEYRING]
    private = keyring._private[keyring.signing_kid]
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "ebok-auth",
            "aud": "ebok",
            "sub": "100001",
            "kind": "customer",
            "sid": "x",
            "roles": ["customer"],
            "restrictions": [],
            "iat": now - 600,
            "exp": now - 300,
        },
        private,
        algorithm="EdDSA",
        headers={"kid": keyring.signing_kid},
    )
    status, problem = await auth.call("GET", "/me", token=token)
    assert status == 401 and problem["code"] == "invalid-token"


async def test_key_rotation_logs_nobody_out(auth: Auth) -> None:
    tokens = await _tokens(auth)
    old_kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    new_kid = await auth.app[KEYRING].rotate(auth.pool)
    assert new_kid != old_kid
    jwks = await (await auth.client.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    assert (await auth.call("GET", "/me", token=tokens["access_token"]))[0] == 200
    status, fresh = await auth.call(
        "POST", "/sessions/refresh", json_body={"refresh_token": tokens["refresh_token"]}
    )
    assert status == 200
    assert jwt.get_unverified_header(fresh["access_token"])["kid"] == new_kid
    assert (await auth.call("GET", "/me", token=fresh["access_token"]))[0] == 200


async def test_keys_from_the_environment_sign_first_and_publish_all(
    database: str, amqp_url: str, bus_prefix: str
) -> None:
    from cryptography.hazmat.primitives import serialization
    from ebok_auth.keys import KeyRing

    from tests.auth.harness import settings_for

    pems = [
        k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        for k in (Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate())
    ]
    from ebok_shared.config import Secret

    settings = settings_for(database, amqp_url, bus_prefix, signing_keys=Secret("\n".join(pems)))
    keyring = KeyRing(settings)
    await keyring.load(None)  # type: ignore[arg-type]  # env keys need no database
    token, _ = keyring.sign({"sub": "100001", "kind": "customer", "sid": "s"})
    assert len(keyring.jwks()["keys"]) == 2
    assert jwt.get_unverified_header(token)["kid"] == keyring.signing_kid
    assert keyring.jwks()["keys"][0]["kid"] == keyring.signing_kid
