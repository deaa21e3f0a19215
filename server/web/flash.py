"""The one-line answer a save gives ("Saved: …", "Could not save: …"), kept in the session
for the page the browser is sent back to, which shows it once (see base.html)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse


def saved(request: Request, text: str, to: str) -> RedirectResponse:
    """Back to ``to`` with a message that the save worked."""
    request.session["flash"] = {"kind": "saved", "text": text}
    return RedirectResponse(to, status_code=303)


def refused(request: Request, text: str, to: str) -> RedirectResponse:
    """Back to ``to`` with what went wrong, in words staff can act on."""
    text = text.rstrip(".")
    request.session["flash"] = {"kind": "error",
                                "text": f"Not saved: {text[:1].upper()}{text[1:]}."}
    return RedirectResponse(to, status_code=303)
