"""Security headers on every answer: a Content Security Policy (scripts only from us or with
this response's nonce), no framing, no MIME sniffing, no referrer leaving the site, and HSTS
when the console is served over TLS."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = "max-age=31536000; includeSubDomains"


def policy(nonce: str, path: str) -> str:
    """The Content Security Policy for one response."""
    if path == "/docs":  # the API docs page loads Swagger UI from its CDN
        return ("default-src 'self'; script-src 'self' 'unsafe-inline' cdn.jsdelivr.net; "
                "style-src 'self' cdn.jsdelivr.net; img-src 'self' data: fastapi.tiangolo.com; "
                "frame-ancestors 'none'")
    return (f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
            "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
            "form-action 'self'; frame-ancestors 'none'")


class SecurityHeaders:
    """ASGI middleware adding the headers; pages read the nonce as ``request.state.nonce``."""

    def __init__(self, app: ASGIApp, behind_tls: bool = False) -> None:
        self.app, self.behind_tls = app, behind_tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point: wrap one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["nonce"] = nonce
        tls = self.behind_tls or scope.get("scheme") == "https"
        extra: list[tuple[bytes, bytes]] = [
            (b"content-security-policy", policy(nonce, scope.get("path", "")).encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if tls:
            extra.append((b"strict-transport-security", HSTS.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def nonce_of(request: Any) -> str:
    """This response's CSP nonce (for a page's own inline script)."""
    return getattr(request.state, "nonce", "")
