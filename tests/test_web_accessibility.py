"""axe-core (tools/axe, from the npm registry) in headless Chromium on EVERY page of the
console: the pages are listed from the app's own routes, so a new page cannot be missed, and
each is visited signed in as a role that may see it. No serious or critical violation may
remain; each one found is printed with its rule, page and element."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from lockers.wire import messages as m
from server.models import Notification
from tests.server_kit import MORNING, wait_until
from tests.test_web_dashboard import ARTIFACTS, browser, sign_in, site  # noqa: F401

AXE = Path(__file__).resolve().parents[1] / "tools" / "axe" / "node_modules" / "axe-core" \
    / "axe.min.js"
# GET routes answering HTML that are not pages of their own, and why.
NOT_PAGES = {
    "/dashboard/summary": "a fragment the dashboard fetches into itself (checked there)",
    "/docs": "FastAPI's Swagger UI, loaded from a CDN this test machine cannot reach",
}
# Who may see a page: admins may see every page; sign-in is for no one yet; the trust
# overview only for trust staff, once the installation has a second school.
SIGNED_OUT = {"/signin"}
TRUST_ONLY = {"/trust"}
BAD = ("serious", "critical")
SHOTS = ARTIFACTS / "every-page"


def html_pages(app: Any) -> list[str]:
    """Every GET route of ``app`` that answers with an HTML page."""
    return sorted(r.path for r in app.routes if isinstance(r, APIRoute) and "GET" in r.methods
                  and r.response_class is HTMLResponse and r.path not in NOT_PAGES)


def sample_paths(rt: Any, kiosk: Any) -> dict[str, str]:
    """A real record for each page that names one: a held phone, a command, a report, a
    staff member, a letter to a parent."""
    services = rt.services
    kiosk.publish(m.AlarmEvent(kiosk="k1", site="north", seq=1, slot=4, state="raised",
                               alarm=m.AlarmKind.DOOR_LEFT_OPEN,
                               at=MORNING + timedelta(minutes=1)))
    held = services.confiscations.confiscate("office1", "A001", "phone out in class",
                                             place="office safe", serious=True)
    command = services.releases.remote_unlock("admin", "k1", 5, "door stuck")
    wait_until(lambda: services.queries.open_alarms(), 5, "the alarm")

    def first_letter() -> int | None:
        with services.store.read() as s:
            return s.scalar(select(Notification.id).order_by(Notification.id))

    letter = wait_until(first_letter, 10, "the parent's letter a serious confiscation queues")
    custody = services.custody.current("A001")[0].custody_id
    exception = services.exceptions.grant_exception(
        "admin", "A002", category="medical", reason="Glucose monitor", approved_by="Head",
        agreement_date=MORNING.date(), starts=MORNING.date(),
        review_date=MORNING.date() + timedelta(days=90))
    assert held is not None
    return {
        "/console/pupil/{ref}": "/console/pupil/A001",
        "/console/custody/{custody_id}/handover": f"/console/custody/{custody}/handover",
        "/console/commands/{command_id}": f"/console/commands/{command}",
        "/reports/{name}": "/reports/compliance",
        "/console/exceptions/{ident}/revoke": f"/console/exceptions/{exception.id}/revoke",
        "/admin/staff/{username}": "/admin/staff/office1",
        "/console/notifications/{notification_id}/letter":
            f"/console/notifications/{letter}/letter",
    }


def problems(page: Page, path: str) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, at desktop and
    phone widths, one line per element (lesser ones are printed, not counted)."""
    page.add_script_tag(path=str(AXE))
    out = []
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        found = page.evaluate("async () => (await axe.run(document, "
                              "{resultTypes: ['violations']})).violations")
        for v in found:
            lines = [f"{v['id']} ({v['impact']}) on {path} at {width} px: {n['target']} – "
                     f"{v['help']}" for n in v["nodes"]]
            print("\n".join(lines) if v["impact"] in BAD else f"(lesser) {lines[0]}")
            out += lines if v["impact"] in BAD else []
        if page.evaluate("document.documentElement.scrollWidth") > width:
            print(f"(note) {path} scrolls sideways at {width} px")
        out += [f"checkbox or radio not beside its words on {path} at {width} px: {name}"
                for name in page.evaluate(BOXES_APART)]
        SHOTS.mkdir(parents=True, exist_ok=True)  # every page at both widths, to look at
        name = path.strip("/").replace("/", "-") or "home"
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    return out


def focus_hidden(page: Page) -> list[str]:
    """Tab through the first controls of a page: each must show where the focus is."""
    out = []
    for _ in range(6):
        page.keyboard.press("Tab")
        style = page.evaluate("(() => { const e = document.activeElement, s = "
                              "getComputedStyle(e); return [e.tagName + ' ' + "
                              "e.textContent.trim().slice(0, 30), s.outlineStyle, "
                              "parseFloat(s.outlineWidth)]; })()")
        if style[1] == "none" or style[2] < 2:
            out.append(f"keyboard focus not visible on {page.url}: {style[0]}")
    return out


# Each checkbox and radio button inside a label: its box must sit on a line of the label's
# words (beside them), not on a row of its own above them.
BOXES_APART = """() => [...document.querySelectorAll(
    'label input[type=checkbox], label input[type=radio]')].filter(box => {
  const b = box.getBoundingClientRect();
  if (!b.width) return false;  // hidden (e.g. a closed <details>)
  const words = [...box.closest('label').childNodes].filter(
      n => n.nodeType === 3 && n.textContent.trim());
  if (!words.length) return false;
  const range = document.createRange(); range.selectNodeContents(words[0]);
  const lines = [...range.getClientRects()];
  return !lines.some(w => b.bottom > w.top && b.top < w.bottom);
}).map(box => box.name)"""


def trust_pages(rt: Any, base: str, page: Page, paths: set[str]) -> list[str]:
    """The trust's own pages, as its leadership sees them once a second school joins."""
    services = rt.services
    services.admin.create_site("admin", "south", "South School")
    services.admin.create_staff("admin", "trustlead", "Tess Trust", "trust",
                                "lantern harbour meadow")
    page.context.clear_cookies()
    sign_in(page, base, "trustlead", "lantern harbour meadow")
    found = []
    for path in sorted(paths):
        response = page.goto(base + path)
        assert response is not None and response.status == 200, f"{path}: {response}"
        found += problems(page, path)
    return found


@pytest.fixture
def admin_page(site: Any, browser: Browser) -> Iterator[tuple[str, Page]]:  # noqa: F811
    """A browser page the checker can be injected into."""
    # The pages' content security policy would refuse the injected checker.
    context = browser.new_context(bypass_csp=True, locale="en-GB",
                                  viewport={"width": 1280, "height": 900})
    yield site[0], context.new_page()
    context.close()


# Every page at two widths, axe each time: about 70 s on a quiet machine, over 120 s with two
# CPU hogs beside the suite.
@pytest.mark.timeout(480)
def test_every_page_of_the_console_has_no_serious_accessibility_violations(
        site: Any, admin_page: tuple[str, Page]) -> None:  # noqa: F811
    assert AXE.exists(), "axe-core is missing: run scripts/bootstrap.sh (npm ci in tools/axe)"
    base, rt, kiosk = site
    base, page = admin_page
    app = rt.web.server.config.app
    samples = sample_paths(rt, kiosk)
    pages = html_pages(app)
    unnamed = [p for p in pages if "{" in p and p not in samples]
    assert not unnamed, f"give these new pages a sample record in sample_paths: {unnamed}"
    found: list[str] = []
    for path in sorted(SIGNED_OUT & set(pages)):
        page.goto(base + path)
        found += problems(page, path)
    sign_in(page, base, "admin", "correct horse")
    found += focus_hidden(page)
    for route in pages:
        if route in SIGNED_OUT | TRUST_ONLY:
            continue
        path = samples.get(route, route)
        page.set_viewport_size({"width": 1280, "height": 900})
        response = page.goto(base + path)
        assert response is not None and response.status == 200, f"{path}: {response}"
        found += problems(page, path)
    found += trust_pages(rt, base, page, TRUST_ONLY & set(pages))
    assert not found, f"{len(found)} serious or critical accessibility problems:\n" + \
        "\n".join(found)
