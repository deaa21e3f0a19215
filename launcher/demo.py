"""``make demo``: the whole system on this machine, with real components.

Starts Mosquitto (generated per-kiosk accounts and ACL), the server (SQLite, seeded with an
invented school), kiosks in sim mode (gpiozero mock pins, vpcd virtual card readers behind
their own pcscd, simulated pupils opening and shutting doors) and plays a morning rush of
card taps, a confiscation, then collection when the release window opens. A local mail sink
(launcher/mail_sink.py) takes every e-mail the school sends and prints it as it arrives. It
says what it started and what is not built yet. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from launcher.demo_incidents import (
    PASSWORD,
    SITE,
    DemoIncidents,
    say,
)
from launcher.demo_school import DemoPupil, make_pupils, release_window, seed_school
from launcher.mail_sink import MailSink
from lockers.broker import (
    BrokerError,
    BrokerProcess,
    BrokerSetup,
    KioskAccount,
    free_port,
    new_password,
)
from lockers.kiosk_config import (
    REPO,
    BrokerConfig,
    KioskConfig,
    ReaderConfig,
    dump_kiosk_config,
)
from server.config import ServerConfig, WebSettings
from server.config import dump as dump_server_config
from server.mqtt_link import MqttSettings
from server.notify.config import NotifyConfig

log = logging.getLogger("launcher.demo")
STAFF_CARD, STAFF_PIN = "5AFF0001", "246813"  # the office's staff card at the kiosks
LOGINS = {"admin": "admin", "office": "office", "head": "leadership"}
# The demo school's role mailboxes (invented, like its parents: the sink keeps them all).
MAILBOXES = {"dsl_email": "dsl@demo-academy.example",
             "leadership_email": "head@demo-academy.example",
             "office_email": "office@demo-academy.example"}


class Demo(DemoIncidents):
    """Everything the demo starts, so it can all be stopped."""

    def __init__(self, state_dir: Path, port: int, web_port: int, pupils: int, kiosks: int,
                 seed: int, mail_port: int | None = None) -> None:
        self.dir, self.port, self.web_port = state_dir.resolve(), port, web_port
        self.mail = MailSink(self.dir / "inbox", mail_port or free_port(), say)
        self._mail_started = False
        self.kiosk_ids = [f"k{i + 1}" for i in range(kiosks)]
        self.pupils = make_pupils(pupils, seed)
        self.forgot_card = self.pupils[11]  # forgets their card: staff hand the phone in
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.broker: BrokerProcess | None = None
        self._last_progress = 0.0

    # --- set-up ---------------------------------------------------------------------

    def start_broker(self) -> None:
        """Start Mosquitto with an account and ACL for the server and each kiosk."""
        setup = BrokerSetup(config_dir=self.dir / "broker", port=self.port,
                            server_password=new_password(),
                            kiosks=[KioskAccount(SITE, k, new_password())
                                    for k in self.kiosk_ids],
                            run_as_user=getpass.getuser() if os.geteuid() == 0 else None)
        self.broker = BrokerProcess(setup)
        self.broker.start()
        say(f"started Mosquitto on 127.0.0.1:{self.port} (per-kiosk accounts and ACL in "
            f"{setup.config_dir})")

    def start_mail_sink(self) -> None:
        """Start the local SMTP server the demo's server sends its e-mails to."""
        self.mail.start()
        self._mail_started = True
        say(f"started a mail sink on 127.0.0.1:{self.mail.port}: every e-mail the school "
            f"sends is printed here, kept in {self.mail.inbox.folder} and listed on the "
            f"inbox page {self.mail.web_url}")

    def seed_server(self) -> tuple[Path, str]:
        """Write server.toml and seed the invented school; returns (config path, database URL)."""
        assert self.broker is not None
        url = f"sqlite:///{self.dir / 'lockers.db'}"
        (self.dir / "server.password").write_text(self.broker.setup.server_password)
        config = ServerConfig(database_url=url,
                              mqtt=MqttSettings(port=self.port, client_id="demo-server"),
                              web=WebSettings(port=self.web_port), replica_tick_s=5,
                              notify=NotifyConfig(
                                  enabled=True, sender="Demo Academy <lockers@demo-academy."
                                  "example>", smtp_port=self.mail.port, poll_s=2.0,
                                  backoff_first_s=5.0))
        path = self.dir / "server.toml"
        path.write_text(dump_server_config(config, password_file="server.password"))
        # The window opens 4 minutes from now and closes 6 minutes later, so the demo's day
        # also shows what is left overnight.
        today, opens, closes = release_window(datetime.now(UTC), "Europe/London", 4, 6)
        self.services, self.card_key = seed_school(
            url, self.pupils, self.kiosk_ids, 60, today, opens, closes, self.dir,
            site=SITE, password=PASSWORD)
        # A door left open shows up on the dashboard after 20 s (60 s at a real school).
        self.services.admin.update_settings("admin", "demo", door_open_alarm_s=20)
        # Staff mailboxes; leadership's digest right after the demo's window closes.
        self.services.notifications.change_settings("admin", SITE, digest_at=closes,
                                                    **MAILBOXES)
        # The office's staff card and PIN, for staff mode at a kiosk.
        self.services.admin.set_staff_card("admin", "office", STAFF_CARD, STAFF_PIN)
        say(f"seeded an invented school: {len(self.pupils)} pupils with cards, 3 medical "
            f"exceptions, {len(self.kiosk_ids)} kiosks of 60 slots; release window today "
            f"{opens:%H:%M}-{closes:%H:%M} (school time)")
        return path, url

    def start_server(self, config: Path) -> None:
        """Start the server process and wait until its web pages answer."""
        self._spawn("server", [sys.executable, "-m", "launcher.cli", "server", "--config",
                               str(config)])
        self._wait_http(f"http://127.0.0.1:{self.web_port}/healthz", 30)
        say(f"started the server: ingest, replica, commands, web on "
            f"http://127.0.0.1:{self.web_port}")

    def start_kiosks(self) -> None:
        """Start every kiosk in sim mode (k2 and k3 with their incidents) and wait for readers."""
        key = self.card_key
        assert self.broker is not None
        for account in self.broker.setup.kiosks:
            kdir = self.dir / account.kiosk
            kdir.mkdir(parents=True, exist_ok=True)
            cfg = KioskConfig(
                site=SITE, kiosk=account.kiosk, card_key=key, state_dir=kdir,
                readers=[ReaderConfig(role="arrival"), ReaderConfig(role="departure")],
                pinmap=REPO / "hardware" / "pinmaps" / "sim60.toml",
                broker=BrokerConfig(port=self.port, username=account.username,
                                    password=account.password))
            (kdir / "kiosk.toml").write_text(dump_kiosk_config(cfg))
            env = {k: v for k, v in os.environ.items() if k != "PCSCLITE_CSOCK_NAME"}
            screen = ["--ui"] if os.environ.get("DISPLAY") and account is \
                self.broker.setup.kiosks[0] else []
            # The day's incidents: at k2 a pupil leaves a door open; k3 loses its network.
            if account.kiosk == "k2":
                screen += ["--sim-forget-door", "12", "35"]
            if account.kiosk == "k3":
                screen += ["--sim-network-cut", "25", "30"]
            if account is self.broker.setup.kiosks[0]:  # staff hand in for a forgetful pupil
                script = kdir / "staff-script.json"
                script.write_text(json.dumps([{
                    "after_s": 40, "staff_card": STAFF_CARD, "pin": STAFF_PIN,
                    "action": "hand_in", "pupil": self.forgot_card.reference}]))
                screen += ["--sim-script", str(script)]
            self._spawn(f"kiosk {account.kiosk}", [
                sys.executable, "-m", "launcher.cli", "kiosk", "--config",
                str(kdir / "kiosk.toml"), "--sim", "--sim-pupils", *screen], env=env)
        for kiosk in self.kiosk_ids:
            self._wait_file(self.dir / kiosk / "vpcd.json", 30)
        say(f"started kiosks {', '.join(self.kiosk_ids)} in sim mode: mock pins, a virtual "
            "card reader each (own pcscd), simulated pupils at the doors")

    # --- the day ------------------------------------------------------------------------

    def play_day(self) -> None:
        """Play the school day: the morning rush with its incidents, then home time."""
        self._lanes = self._queue_pupils_at_kiosks()
        ports = {k: json.loads((self.dir / k / "vpcd.json").read_text())["ports"][0]
                 for k in self.kiosk_ids}
        say("morning rush: pupils tap in at every kiosk")
        done: dict[str, list[DemoPupil]] = {k: [] for k in self.kiosk_ids}
        self._morning_rush(ports, done)
        if self.stop.is_set():
            return
        self._parent_collection()
        self._report_staff_hand_in()
        self._office_hands_a_device_back()
        self.dsl_handover(self.pupils[9])
        say("morning over; waiting for the release window to open")
        if not self._wait_for_release_window():
            return
        say("release window open: pupils tap out and collect their phones")
        self._home_time(ports, done)
        self._list_uncollected()
        self._left_overnight()

    def _queue_pupils_at_kiosks(self) -> dict[str, list[DemoPupil]]:
        """Every pupil in a random order, dealt out to the kiosks like a queue at each."""
        order = [p for p in self.pupils if p is not self.forgot_card]  # staff hand theirs in
        self.rng.shuffle(order)
        return {k: order[i::len(self.kiosk_ids)] for i, k in enumerate(self.kiosk_ids)}

    def _walk_lane(self, card_port: int, pupils: list[DemoPupil],
                   done: list[DemoPupil]) -> None:
        """The pupils queueing at one kiosk tap their cards on its reader, one after another."""
        from firmware_py.sim.vpcd_card import VirtualCard

        card = VirtualCard(port=card_port)
        for pupil in pupils:
            if self.stop.is_set():
                return
            card.present_uid(pupil.card_uid)
            self.stop.wait(0.8)  # long enough for pcscd's ~400 ms poll to see it
            card.remove()
            done.append(pupil)
            self.stop.wait(self.rng.uniform(0.7, 1.2))  # and to see it leave

    def _start_lanes(self, ports: dict[str, int],
                     done: dict[str, list[DemoPupil]]) -> list[threading.Thread]:
        """Every kiosk's queue tapping at once, each on its own thread."""
        threads = [threading.Thread(target=self._walk_lane, args=(ports[k], p, done[k]),
                                    daemon=True)
                   for k, p in self._lanes.items()]
        for th in threads:
            th.start()
        return threads

    def _morning_rush(self, ports: dict[str, int], done: dict[str, list[DemoPupil]]) -> None:
        """Pupils tap in; a third of the way through the office confiscates a phone, half way
        it approves an early release."""
        threads = self._start_lanes(ports, done)
        confiscated = early = False
        while any(th.is_alive() for th in threads) and not self.stop.wait(1):
            if not confiscated and sum(map(len, done.values())) > len(self.pupils) // 3:
                confiscated = self._confiscate(done[self.kiosk_ids[0]][-6:-1])
            if not early and sum(map(len, done.values())) > len(self.pupils) // 2:
                early = self._early_release(done[self.kiosk_ids[1 % len(self.kiosk_ids)]][-3])
            self._progress()

    def _wait_for_release_window(self) -> bool:
        """Wait until today's release window opens; False if the demo was stopped first."""
        release_at = self._release_opens()
        while datetime.now(UTC) < release_at and not self.stop.wait(1):
            pass
        return not self.stop.is_set()

    def _home_time(self, ports: dict[str, int], done: dict[str, list[DemoPupil]]) -> None:
        """Pupils tap again at home time and collect their phones."""
        threads = self._start_lanes(ports, done)
        while any(th.is_alive() for th in threads) and not self.stop.wait(2):
            self._progress()
        self._progress(force=True)

    def _progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if now - self._last_progress < 10 and not force:
            return
        self._last_progress = now
        try:
            c = self.services.reports.today(site=SITE)
            say(f"arrived {c.arrived} · handed in {c.handed_in} · exempt {c.exempt} · "
                f"held {c.held} · collected {c.collected} · not handed in {c.not_handed_in}")
        except Exception as exc:  # noqa: BLE001 - progress is a nicety
            log.debug("progress unavailable: %s", exc)

    # --- processes ---------------------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        logf = open(self.dir / f"{name.replace(' ', '-')}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                env=env or dict(os.environ), start_new_session=True)
        self.procs.append((name, proc))

    def _wait_http(self, url: str, timeout: float) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return
            except OSError:
                self.stop.wait(0.2)
        raise SystemExit(f"{url} did not answer within {timeout:.0f} s; see {self.dir}/*.log")

    def _wait_file(self, path: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            self._check_children()
            if time.monotonic() > deadline:
                raise SystemExit(f"{path} did not appear; see {self.dir}/*.log")
            self.stop.wait(0.2)

    def _check_children(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited with {proc.returncode}; see its log in "
                                 f"{self.dir}")

    def shutdown(self) -> None:
        """Stop everything started, newest first, and leave nothing running."""
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in reversed(self.procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            say(f"stopped {name}")
        if self.broker is not None and self.broker.running:
            self.broker.stop()
            say("stopped Mosquitto")
        if self._mail_started:  # last: the server's final messages still land
            self.mail.stop()
            self._mail_started = False
            say(f"stopped the mail sink ({len(self.mail.kinds())} e-mails in "
                f"{self.mail.inbox.folder})")


def run_demo(state_dir: Path, port: int = 1883, web_port: int = 8080, pupils: int = 220,
             kiosks: int = 4, seed: int = 7) -> int:
    """Run the demo until Ctrl-C; returns the exit code."""
    logging.basicConfig(level=logging.WARNING)
    if state_dir.exists():
        shutil.rmtree(state_dir)  # a fresh school every time
    state_dir.mkdir(parents=True)
    demo = Demo(state_dir, port, web_port, pupils, kiosks, seed)
    signal.signal(signal.SIGINT, lambda *_: demo.stop.set())
    signal.signal(signal.SIGTERM, lambda *_: demo.stop.set())
    try:
        demo.start_mail_sink()
        demo.start_broker()
        config, _ = demo.seed_server()
        demo.start_server(config)
        demo.start_kiosks()
        say(f"web: http://127.0.0.1:{web_port}/ (live dashboard for leadership, office console "
            f"for pupil search), JSON API at http://127.0.0.1:{web_port}/docs")
        say("logins: " + ", ".join(f"{u} ({r}) / {PASSWORD}" for u, r in LOGINS.items()))
        say("the kiosk screen of k1 is open" if os.environ.get("DISPLAY") else
            "no display here, so no kiosk screen (run with a DISPLAY, or see docs/screens/)")
        say("today: a morning rush, a forgotten card handed in by staff at k1, a confiscation "
            "held for parent collection (its parents e-mailed), an early release, a second "
            "phone kept in the office safe and given back, a phone handed to the DSL (the DSL "
            "e-mailed), a door left open at k2, k3 losing its network for 30 s, a parent "
            "collection, the release window, what is left overnight (the office e-mailed) and "
            "leadership's digest after close")
        demo.play_day()
        say("running; Ctrl-C stops everything")
        demo.stop.wait()
    except BrokerError as exc:
        say(f"error: {exc}")
        return 2
    except SystemExit as exc:
        say(f"error: {exc}")
        return 2
    finally:
        demo.shutdown()
    return 0


