"""Sign-in with the trust's accounts: OpenID Connect (Microsoft Entra ID, Google Workspace)
through Authlib, ending in the same server-side session as a local sign-in.

The flow is the authorization code flow with PKCE (S256), a random state and a nonce; Authlib
verifies the ID token (signature from the provider's JWKS, issuer, audience, expiry, nonce and
at_hash). The state, the PKCE verifier and the nonce ride in their own short-lived signed
cookie with SameSite=Lax rather than in the session: the session cookie is SameSite=Strict, and
the provider's redirect back is a cross-site navigation that would not carry it. For the same
reason the callback answers with a page that moves on to the console itself: a same-site
navigation, so the new (Strict) session cookie goes with it.

    GET /signin/oidc            -> the provider's sign-in page
    GET /signin/oidc/callback   -> verified, mapped, signed in (or a page saying why not)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc.errors import JoseError

from server.errors import ServerError
from server.oidc_config import OidcSettings
from server.services.identities import Identity, IdentityRefused
from server.web.auth import client_address, landing, sign_in

log = logging.getLogger("lockers.server.web.oidc")

try:  # Authlib talks through httpx2 when it is installed, else httpx: catch either's errors
    import httpx2

    TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:
    TRANSPORT_ERRORS = (httpx.HTTPError,)

FLOW_COOKIE = "lockers_signin_flow"
FLOW_PATH = "/signin/oidc"
FLOW_MAX_AGE_S = 600  # time to type a password and pass multi-factor at the provider


class SignInFailed(ServerError):
    """The provider's answer could not be used: the page says why, the log says more."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class Flow:
    """One browser's sign-in in progress (what the callback must match)."""

    state: str
    code_verifier: str
    nonce: str
    redirect_uri: str


class TrustSignIn:
    """The Authlib client for the trust's provider, and the flow cookie's signer."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        oauth = OAuth()
        self.client = oauth.register(
            "trust", client_id=settings.client_id, client_secret=settings.client_secret,
            server_metadata_url=settings.server_metadata_url,
            client_kwargs={"scope": settings.scopes, "code_challenge_method": "S256"})
        # Keyed by the client secret, which every server process of the trust shares, so a
        # flow started on one process can finish on another.
        key = hmac.new(settings.client_secret.encode(), b"lockers signin flow",
                       hashlib.sha256).hexdigest()
        self.signer = URLSafeTimedSerializer(key, salt="lockers-oidc-flow")

    async def start(self, redirect_uri: str) -> tuple[str, str]:
        """The provider's authorization URL and the signed flow cookie's value."""
        rv = await self.client.create_authorization_url(redirect_uri)
        flow = {"state": rv["state"], "code_verifier": rv["code_verifier"],
                "nonce": rv["nonce"], "redirect_uri": redirect_uri}
        return rv["url"], self.signer.dumps(flow)

    def flow(self, cookie: str | None) -> Flow:
        """The flow this browser started, or :class:`SignInFailed`."""
        try:
            data = self.signer.loads(cookie or "", max_age=FLOW_MAX_AGE_S)
        except BadSignature:
            raise SignInFailed("the sign-in took too long or was started in another window: "
                               "start again", "flow cookie missing, expired or forged") from None
        return Flow(**data)

    async def claims(self, request: Request, flow: Flow) -> dict[str, Any]:
        """The verified ID token's claims for the callback ``request`` (PKCE, state, nonce,
        signature, issuer, audience, expiry all checked), or :class:`SignInFailed`."""
        query = request.query_params
        if query.get("error"):
            raise SignInFailed("the trust's sign-in service refused: "
                               f"{query.get('error_description') or query['error']}",
                               f"provider error={query['error']}")
        if not hmac.compare_digest(query.get("state", ""), flow.state):
            raise SignInFailed("the sign-in answer does not belong to this browser: start "
                               "again", "state mismatch")
        try:
            token = await self.client.fetch_access_token(
                redirect_uri=flow.redirect_uri, code=query.get("code", ""),
                code_verifier=flow.code_verifier)
            claims = await self.client.parse_id_token(token, nonce=flow.nonce,
                                                      leeway=self.settings.clock_skew_s)
        except (OAuthError, JoseError, ValueError) as exc:
            raise SignInFailed("the sign-in could not be verified, so it was refused. If "
                               "this keeps happening, ask IT to check the lockers' OpenID "
                               "settings and the server's clock",
                               f"{type(exc).__name__}: {exc}") from None
        except TRANSPORT_ERRORS as exc:
            raise SignInFailed("the trust's sign-in service could not be reached: try again "
                               "or use a local account", f"{type(exc).__name__}: {exc}"
                               ) from None
        if claims is None:
            raise SignInFailed("the sign-in service sent no ID token: ask IT to check that "
                               "the scopes include openid", "no id_token")
        return dict(claims)


def add_oidc(app: FastAPI, settings: OidcSettings) -> None:
    """Mount the sign-in with the trust's accounts on ``app`` (when ``settings.enabled``), and
    apply ``local_passwords`` to the password sign-in."""
    services = app.state.services
    services.signin.password_allowed = settings.local_password_allowed
    if not settings.enabled:
        return
    trust = TrustSignIn(settings)
    app.state.oidc_provider_name = settings.provider_name  # the sign-in page's button

    @app.get(FLOW_PATH, include_in_schema=False)
    async def oidc_start(request: Request) -> Response:
        redirect_uri = settings.redirect_uri or str(request.url_for("oidc_callback"))
        try:
            url, cookie = await trust.start(redirect_uri)
        except (*TRANSPORT_ERRORS, OAuthError, ValueError) as exc:
            log.error("event=oidc_provider_unreachable url=%s error=%r",
                      settings.server_metadata_url, exc)
            return _refused(request, "The trust's sign-in service could not be reached: try "
                            "again, or use a local account.", 502)
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(FLOW_COOKIE, cookie, max_age=FLOW_MAX_AGE_S, path=FLOW_PATH,
                            httponly=True, samesite="lax",
                            secure=redirect_uri.startswith("https:"))
        return response

    @app.get(FLOW_PATH + "/callback", name="oidc_callback", include_in_schema=False)
    async def oidc_callback(request: Request) -> Response:
        address = client_address(request)
        try:
            flow = trust.flow(request.cookies.get(FLOW_COOKIE))
        except SignInFailed as exc:
            # Only logged: anyone can call this URL without a flow, and the audit log should
            # hold sign-ins, not noise.
            log.warning("event=oidc_signin_failed ip=%s detail=%r", address, exc.detail)
            return _refused(request, _sentence(str(exc)), 403)
        try:
            claims = await trust.claims(request, flow)
        except SignInFailed as exc:
            log.warning("event=oidc_signin_failed ip=%s detail=%r", address, exc.detail)
            await asyncio.to_thread(services.identities.record_failure, exc.detail, address)
            return _refused(request, _sentence(str(exc)), 403)
        try:
            who = await asyncio.to_thread(services.identities.sign_in,
                                          Identity.from_claims(claims), settings.rules, address)
        except IdentityRefused as exc:
            return _refused(request, _sentence(str(exc)), 403)
        await asyncio.to_thread(sign_in, request, who)
        # The dashboard is for leadership; everyone else starts at the office console.
        return _continue_to(landing(who.role))


def _sentence(text: str) -> str:
    """A message as a sentence (capitalize() would lower-case "IT" and "Sign in with")."""
    return text[:1].upper() + text[1:] + "."


def _refused(request: Request, text: str, status_code: int) -> HTMLResponse:
    from server.web.pages import templates

    response = templates.TemplateResponse(request, "signin-refused.html", {
        "text": text, "me": None, "provider": getattr(request.app.state, "oidc_provider_name",
                                                      "")}, status_code=status_code)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


def _continue_to(path: str) -> HTMLResponse:
    """Signed in: a page that navigates on by itself (see the module doc for why not a
    redirect), with a link for a browser that does not follow meta refresh."""
    response = HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0;url={path}"><title>Signed in</title></head>'
        f'<body><p>Signed in. <a href="{path}">Continue</a></p></body></html>',
        headers={"cache-control": "no-store"})
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response
