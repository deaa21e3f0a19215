"""The demo's day, as the office plays it: a confiscation, a parent collection through the web
console, an early release, a second phone kept in the office and given back, a phone handed
to the DSL, what staff handed in at a kiosk, and what is left at close and overnight. A mixin of
:class:`launcher.demo.Demo`, which holds the state these read."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from launcher.demo_school import DemoPupil
from server.errors import ServerError

SITE = "demo"
PASSWORD = "demo-password-1"
# What an office action played by the demo can meet: the server refusing it (a school rule,
# a record not there yet) or the database busy with the server process beside it.
_DEMO_ACTION_ERRORS = (ServerError, SQLAlchemyError)


def say(text: str) -> None:
    """One line for the person watching."""
    print(f"[demo] {text}", flush=True)


class DemoIncidents:
    """The office's part of the demo's day."""

    services: Any
    stop: threading.Event
    web_port: int
    dir: Path
    kiosk_ids: list[str]
    pupils: list[DemoPupil]
    forgot_card: DemoPupil
    _lanes: dict[str, list[DemoPupil]]

    def _release_opens(self) -> datetime:
        """When today's release window opens (UTC)."""
        return self._window_edge(opening=True)

    def _release_closes(self) -> datetime:
        """When today's release window closes (UTC)."""
        return self._window_edge(opening=False)

    def _window_edge(self, opening: bool) -> datetime:
        day = self.services.calendar.release_window(site=SITE)
        edge = day.release_opens if opening else day.release_closes
        local = datetime.combine(day.day, edge or datetime.now().time(),
                                 ZoneInfo("Europe/London"))
        return local.astimezone(UTC)

    def _list_uncollected(self) -> None:
        """Say which devices were left at close, as the office would see them."""
        try:
            left = self.services.reports.uncollected(site=SITE)
            say(f"at close, {len(left)} device(s) not collected, listed for the office:")
            for row in left[:10]:  # first names only: the demo's words are read aloud
                say(f"  {row['first_name']} ({row['form']}, {row['reference']}): "
                    f"{row['kiosk']}, locker {row['slot']}")
        except _DEMO_ACTION_ERRORS as exc:  # the demo goes on; say what happened
            say(f"could not list uncollected devices: {exc}")

    def _report_staff_hand_in(self) -> None:
        """Say what the office now sees of the phone staff handed in at k1 for the pupil who
        forgot their card (played at the kiosk through its staff mode)."""
        pupil = self.forgot_card
        try:
            records = self.services.custody.current(pupil.reference, site=SITE)
        except _DEMO_ACTION_ERRORS as exc:
            say(f"could not look up {pupil.first_name}'s phone: {exc}")
            return
        if records:
            say(f"{pupil.first_name} forgot their card: staff handed the phone in for them at "
                f"the kiosk, {records[0].where}")
        else:
            say(f"staff have not yet handed in {pupil.first_name}'s phone (see the k1 log)")

    def _office_hands_a_device_back(self) -> None:
        """A second phone found on a pupil is confiscated and kept in the office safe; at the
        end of the lesson the office gives it back by hand (end-of-day release, not serious)."""
        pupil = self.pupils[7]
        try:
            view = self.services.confiscations.confiscate(
                "office", pupil.reference, "second phone found in a blazer pocket (demo)",
                second_device=True, place="office safe", site=SITE)
            say(f"the office confiscated a second phone from {pupil.first_name}: kept in the "
                "office safe, its own custody record")
            self.stop.wait(5)
            assert view.custody_id is not None
            self.services.custody.return_to_pupil(
                "office", view.custody_id, "given back at the end of the lesson (demo)",
                site=SITE)
            say(f"the office gave {pupil.first_name}'s second phone back by hand")
        except _DEMO_ACTION_ERRORS as exc:  # the demo goes on; say what happened
            say(f"could not play the office's confiscation and return: {exc}")

    def _left_overnight(self) -> None:
        """After the window closes, what the office will find next morning: devices left."""
        closes = self._release_closes()
        say(f"waiting for the release window to close at {closes:%H:%M} UTC")
        while datetime.now(UTC) < closes and not self.stop.wait(2):
            pass
        try:
            left = self.services.custody.left_overnight(site=SITE)
            say(f"left overnight, on the office's list in the morning: {len(left)} device(s)")
            for view in left[:5]:
                say(f"  {view.pupil_label or view.pupil_ref}: {view.where}")
        except _DEMO_ACTION_ERRORS as exc:
            say(f"could not list the devices left overnight: {exc}")

    def _confiscate(self, candidates: list[DemoPupil]) -> bool:
        """Confiscate the phone of a pupil who has just handed one in."""
        try:
            for pupil in reversed(candidates):
                where = self.services.queries.where_is_phone(pupil.reference)
                if where.slot is not None:
                    break
            else:
                return False
        except _DEMO_ACTION_ERRORS as exc:
            say(f"could not find a phone to confiscate: {exc}")
            return True
        self.hold_for_parent(pupil, where.kiosk, where.slot)
        return True

    def hold_for_parent(self, pupil: DemoPupil, kiosk: str | None = None,
                         slot: int | None = None) -> None:
        """Serious misuse: the phone (in its locker, or taken to the office safe) is held for
        a parent or carer, who is e-mailed in the same transaction as the hold."""
        try:
            self.services.confiscations.confiscate(
                "office", pupil.reference, "phone used to film a lesson (demo)",
                kiosk=kiosk, slot=slot, place=None if slot else "office safe", serious=True,
                site=SITE)
            say(f"the office confiscated {pupil.first_name}'s phone: it is now held for "
                "parent collection, their tap will not open it, and their parents are "
                "e-mailed")
        except _DEMO_ACTION_ERRORS as exc:  # the demo goes on; say what happened
            say(f"could not record the demo confiscation: {exc}")

    def dsl_handover(self, pupil: DemoPupil) -> None:
        """A phone taken for a safeguarding concern goes from the office safe to the DSL;
        the DSL is e-mailed at once, without the staff member's note."""
        try:
            view = self.services.confiscations.confiscate(
                "office", pupil.reference, "pupil upset by messages (demo)",
                place="office safe", site=SITE)
            self.services.confiscations.hand_over(
                "head", view.id, "dsl", "messages a friend reported as worrying (demo)")
            say(f"{pupil.first_name}'s phone was handed to the DSL: the DSL is e-mailed")
        except _DEMO_ACTION_ERRORS as exc:  # the demo goes on; say what happened
            say(f"could not play the hand-over to the DSL: {exc}")

    def _parent_collection(self) -> None:
        """The office, in the web console, hands the held phone to a parent: the kiosk opens
        the locker and the page shows what the door switch saw."""

        import httpx

        base = f"http://127.0.0.1:{self.web_port}"
        try:
            with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as web:
                form = web.get("/signin").text
                csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
                web.post("/signin", data={"username": "office", "password": PASSWORD,
                                          "csrf": csrf})
                held = web.get("/console/held").text
                csrf = re.search(r'name="csrf" value="([^"]+)"', held).group(1)  # type: ignore[union-attr]  # a new session has a new token
                found = re.search(r'action="/console/held/(\d+)/collect"', held)
                if not found:
                    say("no held phone to collect (the confiscation has not reached a locker)")
                    return
                page = web.post(f"/console/held/{found.group(1)}/collect", data={
                    "collector": "Mrs Demo", "relationship": "mother",
                    "identity_check": "photo ID checked at reception", "csrf": csrf}).text
                outcome = re.search(r'id="outcome">([^<]+)<', page)
                say("a parent collected the held phone at the office: "
                    + (outcome.group(1).strip() if outcome else "no answer shown"))
        except (httpx.HTTPError, AttributeError) as exc:
            say(f"the demo parent collection could not be played: {exc}")

    def _early_release(self, pupil: DemoPupil) -> bool:
        try:
            self.services.releases.approve_early_release(
                "office", pupil.reference, "dentist appointment at 11:00 (demo)")
            say(f"the office approved an early release for {pupil.first_name}: their next tap "
                "opens their locker once")
            kiosk = next(k for k in self.kiosk_ids if pupil in self._lanes.get(k, []))
            threading.Timer(8.0, self._tap_once, args=(kiosk, pupil)).start()
        except _DEMO_ACTION_ERRORS as exc:  # the demo goes on; say what happened
            say(f"could not record the demo early release: {exc}")
        return True

    def _tap_once(self, kiosk: str, pupil: DemoPupil) -> None:
        from firmware_py.sim.vpcd_card import VirtualCard

        port = json.loads((self.dir / kiosk / "vpcd.json").read_text())["ports"][1]
        with VirtualCard(port=port) as card:  # the kiosk's second (departure) reader
            card.present_uid(pupil.card_uid)
            self.stop.wait(0.6)
        say(f"{pupil.first_name} tapped out early at {kiosk}")

