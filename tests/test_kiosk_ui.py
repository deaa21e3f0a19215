"""The kiosk screen, as a pupil sees it: the real Kivy app (under Xvfb) on a real controller
(sim mode, real broker), every outcome shown in words and screenshotted; the PIN pad pressed
with real touch events."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from kiosk_ui import presenter
from locker_controller.api import KioskView, StaffResult, TapResult
from lockers.wire import messages as m
from lockers.wire import topics as t
from tests.controller_kit import (
    KEY,
    KIOSK,
    MONDAY_0820,
    PUPILS,
    SITE,
    STAFF_PIN,
    STAFF_UID,
    FakeServer,
    card,
    snapshot,
)
from tests.fixtures.broker import Broker
from tests.fixtures.pcsc import Pcsc

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "kiosk"
# What a pupil must never read: an outcome key, a staff or pupil code, a Python value.
CODE = re.compile(r"_[a-z]|\bS\d\d\b|\bP\d+\b|[{}]|None|True|False")


def test_every_tap_outcome_has_words_an_icon_and_a_tone() -> None:
    for outcome in m.TapOutcome:
        panel = presenter.for_tap(TapResult(outcome, MONDAY_0820, "arrival", "Amira", 14))
        assert panel.title and panel.icon and panel.tone in presenter.TONES, outcome
        assert "{" not in panel.title + panel.body, outcome
    opened = presenter.for_tap(TapResult(m.TapOutcome.DEPOSIT_OPENED, MONDAY_0820, "arrival",
                                         "Amira", 14))
    assert (opened.title, opened.slot) == ("Locker 14 is open", 14)
    assert "Amira" in opened.body and "O'Brien" not in opened.body


def test_a_card_without_a_name_never_shows_an_empty_greeting() -> None:
    panel = presenter.for_tap(TapResult(m.TapOutcome.NOT_RELEASE_TIME, MONDAY_0820, "arrival",
                                        None, 3))
    assert panel.title == "Not yet" and ",," not in panel.body


def test_the_offline_banner_and_open_doors_line_follow_the_view() -> None:
    view = KioskView(site="s", kiosk="k", online=False, mode="normal", slots=(),
                     open_for_deposit=(3, 7), open_for_release=(2,), alarms=(),
                     readers_ok=True)
    assert "offline" in presenter.offline_banner(view)
    assert presenter.doors_line(view) == ("Lockers 2, 3 and 7 are open: close your door when "
                                          "you are done")
    one = replace(view, open_for_deposit=(), open_for_release=(4,))
    assert presenter.doors_line(one).startswith("Locker 4 is open")
    crowd = replace(view, open_for_deposit=tuple(range(1, 9)))
    assert presenter.doors_line(crowd).startswith("8 lockers are open")


def test_a_held_or_not_yet_locker_is_never_lit_as_if_it_were_open() -> None:
    for outcome in m.TapOutcome:
        panel = presenter.for_tap(TapResult(outcome, MONDAY_0820, "arrival", "Ola", 8))
        lit = outcome.value.endswith("_opened") or outcome is m.TapOutcome.ALREADY_DEPOSITED
        assert (panel.slot == 8) == lit, outcome


def test_the_map_shows_the_lockers_around_the_open_one_in_a_300_locker_bank() -> None:
    bank = list(range(1, 301))
    assert presenter.map_window(bank, 287) == list(range(277, 297))
    assert presenter.map_window(bank, 1) == list(range(1, 21))
    assert presenter.map_window(bank, 300) == list(range(281, 301))
    small = list(range(1, 9))
    assert presenter.map_window(small, 5) == small  # a small bank: all of it


def test_staff_results_are_told_in_words_without_codes() -> None:
    refused = presenter.for_staff(StaffResult("open_slot", False, "slot 3 is in use"), {})
    assert (refused.title, refused.body, refused.icon) == ("Not done", "Locker 3 is in use.",
                                                           "cross")
    opened = presenter.for_staff(StaffResult("open_slot", True, "slot 3 opened", 3),
                                 {"slot": 3, "reason": "Door stuck"})
    assert opened.title == "Locker 3 is open" and "Door stuck" in opened.body
    assert opened.slot == 3 and "slot" not in opened.body


def run_driver(tmp_path: Path, broker: Broker, server: FakeServer, out: Path,
               latency_taps: int = 0, pcsc: dict | None = None) -> list[dict]:
    held = card("04000009", "P9", "Ola", status=m.PupilStatus.HELD, slot=8,
                elsewhere=[m.DeviceWhere(held=True, back="parent_or_carer")])
    away = card("04000006", "P6", "Leo", elsewhere=[m.DeviceWhere(
        kiosk="k2", kiosk_name="North entrance", slot=12)])
    server.publish(t.POLICY, snapshot([*PUPILS, held, away]))
    account = broker.kiosk(SITE, KIOSK)
    cfg = {"site": SITE, "kiosk": KIOSK, "card_key": KEY, "state_dir": str(tmp_path / "k"),
           "start": MONDAY_0820.isoformat(), "release": "2026-11-23T15:20:00+00:00",
           "broker": {"host": broker.host, "port": broker.port,
                      "username": account.username, "password": account.password},
           "pupil": "04000001", "pupil2": "04000002", "exempt": "04000003",
           "unknown": "0BADCAFE", "held": "04000009", "staff": STAFF_UID, "away": "04000006",
           "forgot_card": "P4", "confiscated": "P2", "spare_locker": 6, "enrol_to": "P4",
           "new_card": "0C0FFEE0",
           "staff_pin": STAFF_PIN, "latency_taps": latency_taps, "pcsc": pcsc}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    return run_xvfb(["tests.kiosk_screen_driver", str(tmp_path / "cfg.json"), str(out)])


@pytest.fixture
def server(broker: Broker) -> FakeServer:
    return FakeServer(broker)


def assert_no_codes(step: str, shown: dict) -> None:
    """Pupils' screens show no code at all; staff screens may repeat the reference staff
    typed, but never a staff code or an internal key."""
    words = shown["title"] + shown["body"] + shown["doors"]
    assert "S01" not in words, step
    if "staff" not in step:
        assert not CODE.search(words), (step, words)
    assert not re.search(r"_[a-z]|[{}]|None", words), (step, words)


def fresh_artifacts(folder: Path) -> Path:
    """An empty folder for this run's screenshots (a stale one must not pass for new)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


def run_xvfb(args: list[str]) -> list[dict]:
    """Run a screen driver under Xvfb at the kiosk's 800x480; its JSON lines, checked."""
    cmd = [sys.executable, "-m", *args]
    if not os.environ.get("DISPLAY"):
        xvfb = shutil.which("xvfb-run")
        assert xvfb, "xvfb-run is missing: apt-get install -y xvfb xauth"
        cmd = [xvfb, "-a", "-s", "-screen 0 800x480x24", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=REPO)
    steps = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    errors = [s["error"] for s in steps if "error" in s]
    assert not errors and done.returncode == 0, (errors, done.stderr[-2000:])
    return steps


@pytest.mark.timeout(300)  # the real app under Xvfb: slower on a busy machine
def test_the_kiosk_screen_shows_every_outcome_and_staff_work_it_by_touch(
        tmp_path: Path, broker: Broker, server: FakeServer, pcscd: Pcsc) -> None:
    out = fresh_artifacts(ARTIFACTS)
    pcsc = {"socket": str(pcscd.daemon.socket_path), "port": pcscd.daemon.ports[0],
            "reader": pcscd.reader_names[0]}  # every tap is a virtual card on the reader
    steps = {s["step"]: s for s in run_driver(tmp_path, broker, server, out, pcsc=pcsc)}
    assert steps["01-ready"]["title"] == "Tap your card"
    assert steps["02-deposit-opened"]["title"] == "Locker 1 is open"
    assert steps["02-deposit-opened"]["lit"] == 1
    assert "Amira" in steps["02-deposit-opened"]["body"]
    assert steps["03-tapped-again-door-open"]["title"] == "Locker 1 is open"
    assert steps["03-tapped-again-door-open"]["lit"] == 1  # her own door, still open
    assert steps["04-second-pupil-while-door-open"]["title"] == "Locker 2 is open"
    assert steps["04-second-pupil-while-door-open"]["doors"] == (
        "Lockers 1 and 2 are open: close your door when you are done")
    assert steps["05-not-yet"]["body"] == "You can collect your phone from 15:10"
    assert steps["05-not-yet"]["lit"] is None  # her locker stays dark: it will not open
    assert steps["06-exempt"]["body"] == "You can keep your phone with you today"
    assert steps["07-unknown-card"]["title"] == "Card not known"
    assert "phone" in steps["07-unknown-card"]["body"] and "office" in \
        steps["07-unknown-card"]["body"]
    assert steps["08-held"]["title"] == "Please see the office"
    assert steps["08-held"]["lit"] is None
    assert "parent or carer" in steps["08-held"]["body"]
    assert steps["09-staff-pin-pad"]["key"] == "staff_card"
    assert steps["09a-staff-wrong-pin"]["title"] == "Could not sign in"
    assert steps["09a-staff-wrong-pin"]["body"].startswith("Wrong PIN. Tap your staff card")
    menu = steps["10-staff-mode"]
    assert menu["key"] == "staff_mode" and "S01" not in json.dumps(menu)
    assert {"Open a locker", "Clear a fault", "Enrol a new card", "Sign out"} <= set(
        menu["buttons"])
    assert steps["11-staff-pupil-keypad"]["typed"] == "P4"
    hand_in = steps["12-staff-hand-in-opened"]
    assert hand_in["title"] == f"Put the phone in locker {hand_in['lit']}"
    assert "Kai" in hand_in["body"]
    assert "Tom" in steps["13-staff-confiscated-opened"]["body"]
    assert "Door stuck" in steps["15-staff-open-why"]["buttons"]
    assert steps["16-staff-locker-opened"]["title"] == "Locker 6 is open"
    assert "Door stuck" in steps["16-staff-locker-opened"]["body"]
    assert steps["17-staff-fault-cleared"]["title"] == "Locker 6 is working again"
    assert steps["18-staff-enrol-tap-card"]["title"] == "Tap the new card"
    assert steps["19-staff-card-enrolled"]["title"] == "New card enrolled"
    assert steps["20-staff-signed-out"]["title"] == "Signed out"
    assert steps["21-release-opened"]["title"] == "Locker 1 is open"
    assert steps["22-door-left-open"]["title"] == "Close locker 1"
    assert steps["23-phone-at-another-kiosk"]["body"].endswith(
        "Your phone is at North entrance, locker 12.")
    assert "offline" in steps["24-offline-but-working"]["banner"]
    assert steps["25-clock-unsure"]["key"] == "clock_unsure"
    assert "time" in steps["25-clock-unsure"]["body"]
    fire = steps["26-fire-alarm"]
    assert fire["title"] == "Fire alarm" and "Leave your phone" in fire["body"]
    assert "open" not in fire["body"] and fire["doors"] == "" and fire["lit"] is None
    for step, shown in steps.items():
        assert (out / f"{step}.png").stat().st_size > 5000
        assert_no_codes(step, shown)


@pytest.mark.timeout(300)  # the real app under Xvfb: slower on a busy machine
def test_every_other_outcome_and_a_300_locker_bank_on_the_real_screen() -> None:
    out = fresh_artifacts(ARTIFACTS / "gallery")
    steps = {s["step"]: s for s in run_xvfb(["tests.kiosk_gallery_driver", str(out)])}
    far = steps["27-bank-300-locker-287"]
    assert far["title"] == "Locker 287 is open" and far["caption"] == "Lockers 277 to 296"
    assert sorted(far["cells"]) == list(range(277, 297))
    assert steps["28-bank-300-locker-1"]["caption"] == "Lockers 1 to 20"
    assert steps["31-held-in-this-kiosk"]["cells"] == []  # a held locker is never lit
    assert steps["32-kiosk-full"]["title"] == "This kiosk is full"
    assert steps["36-many-doors-open"]["doors"].startswith("6 lockers are open")
    assert steps["37-staff-refused"]["body"].startswith("No pupil")
    assert steps["38-reader-fault"]["title"] == "Please use another kiosk"
    waiting = steps["39-records-lost-kiosk-waits"]
    assert waiting["key"] == "no_free_slot_restoring" and "records" in waiting["banner"]
    over_fault = steps["39a-staff-menu-over-a-fault"]
    assert over_fault["key"] == "staff_mode" and "fault" in over_fault["note"]  # staff can act
    assert steps["39b-fire-alarm-beats-staff-mode"]["key"] == "fire"
    fire = steps["40-fire-alarm-300"]  # every door open, and the screen still says go
    assert fire["key"] == "fire" and fire["doors"] == "" and fire["cells"] == []
    for step, shown in steps.items():
        assert (out / f"{step}.png").stat().st_size > 5000
        assert_no_codes(step, shown)
