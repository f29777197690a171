"""OpenID Connect sign-in for the portal (Entra ID and similar; docs/portal.md).

Authorization code flow with PKCE (S256), `state` and `nonce` kept in the signed session. The
ID token's signature is checked against the issuer's published keys (JWKS), and its `iss`, `aud`,
`exp` and `nonce`. The account is the verified e-mail (`email`, else `preferred_username`), lower
case: an owner's access still comes from `agare_epost` in the register; an entry for the same
address in the accounts file gives the analyst or county role.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from urllib.parse import urlencode

import httpx
import jwt

from ingestion.core.config import Settings

CALLBACK = "/oidc/callback"
LOGIN = "/oidc/logga-in"


class OIDCError(RuntimeError):
    """A Swedish reason the sign-in through the identity provider failed."""


class OIDC:
    def __init__(self, settings: Settings):
        self.issuer = (settings.portal_oidc_issuer or "").rstrip("/")
        self.client_id = settings.portal_oidc_client_id or ""
        self.client_secret = settings.portal_oidc_client_secret
        self.base_url = (settings.portal_url or "").rstrip("/")
        self._config: dict | None = None
        self._config_at = 0.0
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    @staticmethod
    def enabled(settings: Settings) -> bool:
        return bool(settings.portal_oidc_issuer and settings.portal_oidc_client_id)

    def config(self) -> dict:
        with self._lock:
            if self._config is None or time.monotonic() - self._config_at > 3600:
                try:
                    response = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    raise OIDCError(f"Inloggningstjänsten svarar inte ({type(exc).__name__}).") from None
                config = response.json()
                if config.get("issuer", "").rstrip("/") != self.issuer:
                    raise OIDCError("Inloggningstjänsten uppger en annan utfärdare än den som är inställd.")
                self._config, self._config_at = config, time.monotonic()
                self._jwks = jwt.PyJWKClient(config["jwks_uri"], cache_keys=True)
            return self._config

    def redirect_uri(self, request_base: str) -> str:
        return (self.base_url or request_base.rstrip("/")) + CALLBACK

    def authorization_url(self, session: dict, request_base: str, next_path: str | None) -> str:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        session["oidc"] = {"state": state, "nonce": nonce, "verifier": verifier, "next": next_path}
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri(request_base),
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.config()['authorization_endpoint']}?{urlencode(query)}"

    def finish(self, session: dict, request_base: str, state: str | None, code: str | None) -> tuple[str, str | None]:
        """Check the provider's answer; returns (verified e-mail, the page asked for)."""
        pending = session.pop("oidc", None)
        if not pending or not state or not code or not secrets.compare_digest(pending["state"], state):
            raise OIDCError("Inloggningen kunde inte slutföras (ogiltigt eller gammalt svar). Försök igen.")
        config = self.config()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri(request_base),
            "client_id": self.client_id,
            "code_verifier": pending["verifier"],
        }
        if self.client_secret:
            form["client_secret"] = self.client_secret
        try:
            response = httpx.post(config["token_endpoint"], data=form, timeout=10)
            response.raise_for_status()
            id_token = response.json()["id_token"]
            key = self._jwks.get_signing_key_from_jwt(id_token)
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=["RS256", "ES256", "PS256"],
                audience=self.client_id,
                issuer=config["issuer"],
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except (httpx.HTTPError, KeyError, ValueError, jwt.PyJWTError) as exc:
            raise OIDCError(f"Inloggningstjänstens svar kunde inte godtas ({type(exc).__name__}).") from None
        if not secrets.compare_digest(str(claims.get("nonce", "")), pending["nonce"]):
            raise OIDCError("Inloggningstjänstens svar hörde inte till den här inloggningen. Försök igen.")
        email = str(claims.get("email") or claims.get("preferred_username") or "").strip().lower()
        if claims.get("email_verified") is False or "@" not in email:
            raise OIDCError("Inloggningstjänsten gav ingen bekräftad e-postadress.")
        return email, pending.get("next")
