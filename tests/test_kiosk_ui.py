"""The kiosk screen, as a pupil sees it: the real Kivy app (under Xvfb) on a real controller
(sim mode, real broker), every outcome shown in words and screenshotted; the PIN pad pressed
with real touch events."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk_ui import presenter
from locker_controller.api import KioskView, TapResult
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
    assert presenter.doors_line(view).endswith("2, 3, 7")


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
    cmd = [sys.executable, "-m", "tests.kiosk_screen_driver", str(tmp_path / "cfg.json"), str(out)]
    if not os.environ.get("DISPLAY"):
        xvfb = shutil.which("xvfb-run")
        assert xvfb, "xvfb-run is missing: apt-get install -y xvfb xauth"
        cmd = [xvfb, "-a", "-s", "-screen 0 800x480x24", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    steps = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    errors = [s["error"] for s in steps if "error" in s]
    assert not errors and done.returncode == 0, (errors, done.stderr[-2000:])
    return steps


@pytest.fixture
def server(broker: Broker) -> FakeServer:
    return FakeServer(broker)


def test_the_kiosk_screen_shows_every_outcome_and_takes_a_pin_by_touch(
        tmp_path: Path, broker: Broker, server: FakeServer, pcscd: Pcsc) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pcsc = {"socket": str(pcscd.daemon.socket_path), "port": pcscd.daemon.ports[0],
            "reader": pcscd.reader_names[0]}  # every tap is a virtual card on the reader
    steps = {s["step"]: s for s in run_driver(tmp_path, broker, server, ARTIFACTS, pcsc=pcsc)}
    assert steps["01-ready"]["title"] == "Tap your card"
    assert steps["02-deposit-opened"]["title"] == "Locker 1 is open"
    assert "Amira" in steps["02-deposit-opened"]["body"]
    assert steps["03-second-pupil-while-door-open"]["title"] == "Locker 2 is open"
    assert steps["03-second-pupil-while-door-open"]["doors"] == "Open now: 1, 2"
    assert steps["04-not-yet"]["body"] == "You can collect your phone from 15:10"
    assert steps["05-exempt"]["body"] == "You can keep your phone with you today"
    assert steps["06-unknown-card"]["title"] == "Card not known"
    assert steps["07-held"]["title"] == "Please see the office"
    assert steps["08-staff-pin-pad"]["key"] == "staff_card"
    assert steps["09-staff-mode"]["body"] == "Signed in as S01"
    assert steps["10-release-opened"]["title"] == "Locker 1 is open"
    assert steps["11-door-left-open"]["title"] == "Please close locker 1"
    assert "offline" in steps["12-offline-but-working"]["banner"]
    assert steps["13-fire-alarm"]["title"] == "Fire alarm"
    for step in steps:
        assert (ARTIFACTS / f"{step}.png").stat().st_size > 5000
