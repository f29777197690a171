"""OpenID Connect sign-in to the portal against a real (local) identity provider over HTTP: the
provider publishes its discovery document and keys, answers the authorization request with a code
and the token request with an RS256-signed ID token, checking PKCE and the client secret as Entra
ID does. Both run under uvicorn; the browser's part is played by an httpx client following the
redirects with its cookies."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route
from test_portal import OWNER, make_portal_home

pytestmark = pytest.mark.dbt  # the published sample county
CLIENT_ID, CLIENT_SECRET = "finsam-portal", "idp-test-secret-" + "y" * 20


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(app, port: int):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    return server, thread


def identity_provider(base: str, state: dict) -> Starlette:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "k1", "use": "sig"}
    codes: dict[str, dict] = {}

    async def discovery(request: Request):
        return JSONResponse(
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
            }
        )

    async def jwks(request: Request):
        return JSONResponse({"keys": [jwk]})

    async def authorize(request: Request):
        q = request.query_params
        assert q["client_id"] == CLIENT_ID and q["response_type"] == "code" and q["code_challenge_method"] == "S256"
        assert "openid" in q["scope"].split()
        code = secrets.token_urlsafe(16)
        codes[code] = dict(q)
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

    async def token(request: Request):
        form = await request.form()
        grant = codes.pop(form["code"], None)
        if grant is None or form["client_secret"] != CLIENT_SECRET or form["redirect_uri"] != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest()).rstrip(b"=")
        if challenge.decode() != grant["code_challenge"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": base,
            "aud": state.get("audience", CLIENT_ID),
            "sub": "user-1",
            "email": state["email"],
            "email_verified": True,
            "nonce": grant["nonce"],
            "iat": now,
            "exp": now + 300,
        }
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        return JSONResponse({"access_token": "x", "token_type": "Bearer", "id_token": id_token})

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/jwks", jwks),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
        ]
    )


@pytest.fixture
def portal_with_idp(published_sample, tmp_path, monkeypatch):
    from ingestion.core.config import load_settings
    from ingestion.portal.app import create_app

    idp_port, portal_port = _port(), _port()
    idp_base, portal_base = f"http://127.0.0.1:{idp_port}", f"http://127.0.0.1:{portal_port}"
    state = {"email": OWNER.upper()}  # providers send the address as typed; the portal lower-cases it
    make_portal_home(published_sample, tmp_path, monkeypatch)
    monkeypatch.setenv("FINSAM_PORTAL_OIDC_ISSUER", idp_base)
    monkeypatch.setenv("FINSAM_PORTAL_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("FINSAM_PORTAL_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("FINSAM_PORTAL_URL", portal_base)
    settings = load_settings()
    servers = [_serve(identity_provider(idp_base, state), idp_port)]
    app = create_app(settings, warm=False)
    servers.append(_serve(app, portal_port))
    try:
        yield settings, app, portal_base, state
    finally:
        for server, thread in servers:
            server.should_exit = True
            thread.join(timeout=10)


def test_owner_signs_in_through_the_identity_provider(portal_with_idp):
    settings, app, base, state = portal_with_idp
    assert {"/oidc/logga-in", "/oidc/callback"} <= app.state.public_paths
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        login = browser.get(base + "/insats/SODRA/AVESTA")
        assert "Logga in med ditt konto i regionen eller kommunen" in login.text
        page = browser.get(base + "/oidc/logga-in", params={"next": "/insats/SODRA/AVESTA"})
        assert page.status_code == 200 and str(page.url) == base + "/insats/SODRA/AVESTA"
        assert "Samverkansteam Avesta" in page.text and "Inloggad som avesta.team@avesta.example" in page.text
        assert browser.get(base + "/insats/SODRA/KRAFTEN").status_code == 403
        # The provider's answer is good once: the same callback again is refused.
        replay = browser.get(base + "/oidc/callback", params={"code": "old", "state": "old"})
        assert replay.status_code == 400 and "kunde inte slutföras" in replay.text
    audit = [json.loads(line) for line in (settings.home / "portal" / "audit.jsonl").read_text().splitlines()]
    assert any(a["event"] == "sign_in" and a.get("method") == "oidc" and a["user"] == OWNER for a in audit)


def test_a_token_for_another_client_is_refused(portal_with_idp):
    settings, app, base, state = portal_with_idp
    state["audience"] = "another-application"
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        page = browser.get(base + "/oidc/logga-in")
        assert page.status_code == 400 and "kunde inte godtas" in page.text
        assert browser.get(base + "/", follow_redirects=False).status_code == 303  # still signed out
