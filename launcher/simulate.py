"""``lockers simulate``: a school day at speed, with real components, and its report.

Real Mosquitto (generated accounts and ACL), the real server as its own process (SQLite),
real kiosk controllers on mock pins and sim expanders, simulated pupils at the doors. Card
reads enter the controllers as the reader service would hand them over (the PC/SC path is
measured on its own by bench/tap_to_open.py). A monitor on the broker sees every event and
every acknowledgement, so losses and commit latency are measured from outside.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

from launcher.demo_school import make_pupils, seed_school
from launcher.sim_kiosks import (
    KioskPlan,
    SimKiosk,
    boardmap_slots,
    sim_boardmap,
    start_sim_kiosk,
)
from launcher.sim_monitor import Monitor
from launcher.sim_report import day_report, morning_picture
from launcher.sim_report import human as human  # re-exported: callers import it from here
from launcher.sim_report import to_json as to_json  # re-exported, as human
from lockers.broker import BrokerProcess, BrokerSetup, KioskAccount, free_port, new_password
from lockers.clock import ScaledClock
from lockers.mqtt import make_client
from lockers.wire import messages as m
from lockers.wire import topics as t
from server.config import ServerConfig, WebSettings
from server.config import dump as dump_server_config
from server.mqtt_link import MqttSettings

SITE = "demo"


@dataclass
class SimOptions:
    """What to simulate."""

    pupils: int = 120
    kiosks: int = 2
    slots: int = 60
    doors_at_once: int = 4
    arrival_minutes: float = 20.0
    curve: str = "rush"  # rush (peaks in the middle) or uniform
    speed: float = 30.0
    faults: tuple[str, ...] = ()  # broker-restart, kiosk-kill, network-cut
    seed: int = 1
    confiscate: int = 1
    collect: bool = True
    workdir: Path | None = None
    progress: bool = True
    # Simulated seconds a pupil keeps the kiosk's reader after the tap (reading the slot
    # number, stepping aside), and minutes from the end of arrivals to the release window.
    # A kiosk's queue is served in real time: each tap's real cost times ``speed`` adds to
    # it, so a big school needs the window far enough after arrivals for the last pupil of
    # the morning to tap before it opens (the report counts any who did not).
    at_reader_s: float = 3.0
    window_after_min: float = 10.0
    # Lock-control boards on a simulated RS-485 bus per kiosk (a board map); None: 60 slots
    # on mock GPIO pins. With boards, ``slots`` is the board map's.
    boardmap: Path | None = None

    def __post_init__(self) -> None:
        if self.boardmap is not None:
            self.slots = boardmap_slots(self.boardmap)


@dataclass
class _PhaseProgress:
    """The taps served so far in one phase (morning or home time), and the bar showing them."""

    bar: Any = None
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)  # the lanes' threads share it


class Simulation:
    """One simulated day."""

    def __init__(self, opts: SimOptions) -> None:
        self.o = opts
        self.dir = opts.workdir or Path(tempfile.mkdtemp(prefix="lockers-sim-"))
        self.rng = random.Random(opts.seed)
        self.kiosk_ids = [f"k{i + 1}" for i in range(opts.kiosks)]
        self.pupils = make_pupils(opts.pupils, opts.seed)
        self.outcomes: Counter[str] = Counter()
        self.tap_ms: list[float] = []
        self.queue_wait_s: list[float] = []
        self.controllers: dict[str, SimKiosk] = {}
        self.held: set[str] = set()
        self.exempt = {p.reference for p in self.pupils[:3]}
        self.opened_for: dict[str, list[str]] = {}
        self.kiosk_of: dict[str, str] = {}
        self.notes: list[str] = []
        self.morning: dict[str, Any] = {}
        self.opens = dtime(23, 0)  # the release window's opening, set when the day starts

    # --- the run ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Run the day and return the report."""
        o = self.o
        start_local = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
        self.clock = ScaledClock(start_local, o.speed)
        today = start_local.date()
        opens = (start_local + timedelta(minutes=o.arrival_minutes + o.window_after_min)).time()
        self.opens = opens
        closes = dtime(23, 0)
        self.broker = BrokerProcess(BrokerSetup(
            config_dir=self.dir / "broker", port=free_port(), server_password=new_password(),
            kiosks=[KioskAccount(SITE, k, new_password()) for k in self.kiosk_ids],
            run_as_user=_user(), server_processes=2))  # monitor: server-2
        self.broker.start()
        self._boardmap = sim_boardmap(o.boardmap, self.dir) if o.boardmap else None
        url = f"sqlite:///{self.dir / 'lockers.db'}"
        self.services, key = seed_school(url, self.pupils, self.kiosk_ids, o.slots, today,
                                         opens, closes, self.dir, site=SITE)
        server = self._start_server(url)
        monitor = self._start_monitor()
        try:
            for kiosk in self.kiosk_ids:
                self._start_kiosk(kiosk, key)
            self._wait(lambda: all(k.controller.view().policy_version >= 1
                                   for k in self.controllers.values()),
                       60, "every kiosk to receive its policy")
            self._morning()
            self._after_morning()
            if o.collect:
                self._wait(lambda: self.clock.now().time() >= opens, 600,
                           "the release window")
                self._afternoon()
            self._wait(self._closed, 120, "every door to be shut and every outbox drained")
            return day_report(self, server, monitor)
        finally:
            for k in self.controllers.values():
                k.controller.stop()
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
            self.broker.stop()

    def _after_morning(self) -> None:
        """Every phone of the morning in its slot and the server told: the fullest picture of
        the day to check the server against. After injected faults the kiosks are given less
        time (the check at close is the one that decides then); a morning that does not
        settle is said in the report, not raised."""
        try:
            self._wait(self._settled, 30 if self.o.faults else 120 + self.o.pupils / 5,
                       "every kiosk to settle and drain its outbox after the morning")
            unsettled = ""
        except TimeoutError as exc:
            unsettled = str(exc)
        if self.clock.now().time() >= self.opens:
            self.notes.append(f"the morning's queues ran past the release window "
                              f"({self.opens:%H:%M}): pupils tapping after it were refused; "
                              "give the window more time after arrivals or slow the "
                              "simulation down")
        self.morning = morning_picture(self)
        self.morning["unsettled"] = unsettled

    def _settled(self) -> bool:
        """No door opening or open for a pupil, and nothing left in any outbox. A door may
        still read open (a restarted sim kiosk can believe one is: see the report's notes);
        custody does not depend on it."""
        moving = {m.SlotState.OPENING_FOR_DEPOSIT, m.SlotState.OPEN_FOR_DEPOSIT,
                  m.SlotState.OPENING_FOR_RELEASE, m.SlotState.OPEN_FOR_RELEASE}
        views = [k.controller.view() for k in self.controllers.values()]
        return all(v.outbox_pending == 0 and not any(s.state in moving for s in v.slots)
                   for v in views)

    def _closed(self) -> bool:
        """Close of day: no door open or opening, and nothing left in any outbox."""
        moving = {m.SlotState.OPENING_FOR_DEPOSIT, m.SlotState.OPEN_FOR_DEPOSIT,
                  m.SlotState.OPENING_FOR_RELEASE, m.SlotState.OPEN_FOR_RELEASE}
        views = [k.controller.view() for k in self.controllers.values()]
        return all(v.outbox_pending == 0 and not any(s.state in moving or s.door_open
                                                     for s in v.slots) for v in views)

    def _start_server(self, url: str) -> subprocess.Popen[bytes]:
        (self.dir / "server.password").write_text(self.broker.setup.server_password)
        config = ServerConfig(
            database_url=url, mqtt=MqttSettings(port=self.broker.setup.port,
                                                client_id="sim-server"),
            web=WebSettings(port=free_port()), replica_tick_s=5, log_level="WARNING")
        (self.dir / "server.toml").write_text(
            dump_server_config(config, password_file="server.password"))
        log = open(self.dir / "server.log", "wb")  # noqa: SIM115
        return subprocess.Popen([sys.executable, "-m", "launcher.cli", "server", "--config",
                                 str(self.dir / "server.toml")], stdout=log,
                                stderr=subprocess.STDOUT)

    def _start_monitor(self) -> Monitor:
        monitor = Monitor()
        # Its own account: the broker binds each account to one client id (lockers.broker).
        client = make_client("sim-monitor", username="server-2",
                             password=self.broker.setup.server_password)
        client.on_message = monitor.on_message
        client.on_connect = lambda c, *_: c.subscribe(
            [(t.filter_all_kiosks(t.EVENTS), 1), (t.filter_all_kiosks(t.EVENT_ACKS), 1)])
        client.reconnect_delay_set(0.1, 1)
        client.connect("127.0.0.1", self.broker.setup.port)
        client.loop_start()
        self.monitor_client = client
        return monitor

    def _start_kiosk(self, kiosk: str, key: str) -> None:
        account = next(a for a in self.broker.setup.kiosks if a.kiosk == kiosk)
        self.controllers[kiosk] = start_sim_kiosk(KioskPlan(
            site=SITE, kiosk=kiosk, key=key, state_dir=self.dir / kiosk,
            broker_port=self.broker.setup.port, username=account.username,
            password=account.password, doors_at_once=self.o.doors_at_once, speed=self.o.speed,
            seed=self.o.seed, boardmap=self._boardmap), self.clock)

    # --- pupils ---------------------------------------------------------------------------

    def _arrivals(self) -> list[float]:
        """Arrival times in simulated seconds after 08:00."""
        span = self.o.arrival_minutes * 60
        if self.o.curve == "uniform":
            times = [self.rng.uniform(0, span) for _ in self.pupils]
        else:
            times = [self.rng.triangular(0, span, span * 0.6) for _ in self.pupils]
        return sorted(times)

    def _morning(self) -> None:
        arrivals = list(zip(self._arrivals(), self.rng.sample(self.pupils, len(self.pupils)),
                            strict=True))
        confiscate_at = len(arrivals) // 2
        fault_at = {f: len(arrivals) * (i + 1) // (len(self.o.faults) + 2)
                    for i, f in enumerate(self.o.faults)}
        self._serve(arrivals, "arrival", confiscate_at, fault_at)

    def _afternoon(self) -> None:
        base = (self.clock.now() - self.clock.now().replace(hour=8, minute=0, second=0,
                                                             microsecond=0)).total_seconds()
        leaving = [(base + self.rng.uniform(0, 600), p)
                   for p in self.rng.sample(self.pupils, len(self.pupils))]
        self._serve(sorted(leaving, key=lambda x: x[0]), "departure", None, {})

    def _serve(self, arrivals: list[tuple[float, Any]], phase: str,
               confiscate_at: int | None, fault_at: dict[str, int]) -> None:
        """Serve one phase's pupils at their kiosks, each kiosk's queue on its own thread."""
        progress = _PhaseProgress(self._progress_bar(len(arrivals), phase))
        threads = [threading.Thread(target=self._walk_lane,
                                    args=(k, v, progress, confiscate_at, fault_at), daemon=True)
                   for k, v in self._lanes(arrivals, phase).items()]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if progress.bar is not None:
            progress.bar.close()

    def _lanes(self, arrivals: list[tuple[float, Any]],
               phase: str) -> dict[str, list[tuple[float, Any]]]:
        """Which kiosk each pupil queues at, in the order they arrive."""
        lanes: dict[str, list[tuple[float, Any]]] = {k: [] for k in self.kiosk_ids}
        for i, item in enumerate(arrivals):
            # In the morning pupils spread over the kiosks; at home time each goes back to
            # the kiosk holding their phone.
            kiosk = self.kiosk_of.get(item[1].reference) if phase == "departure" else None
            lanes[kiosk or self.kiosk_ids[i % len(self.kiosk_ids)]].append(item)
        return lanes

    def _progress_bar(self, total: int, phase: str) -> Any:
        """A progress bar of the phase's taps on stderr, or None when asked for quiet."""
        if not self.o.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=total, desc=f"{phase} taps", unit="tap", file=sys.stderr)

    def _walk_lane(self, kiosk: str, items: list[tuple[float, Any]], progress: _PhaseProgress,
                   confiscate_at: int | None, fault_at: dict[str, int]) -> None:
        """The pupils of one kiosk's queue, each tapping when their simulated moment comes."""
        day0 = self.clock.now().replace(hour=8, minute=0, second=0, microsecond=0)
        for arrive_s, pupil in items:
            arrive = day0 + timedelta(seconds=arrive_s)
            self._sleep_until(arrive)
            waited = (self.clock.now() - arrive).total_seconds()
            result, seen = self._tap_until_answered(kiosk, pupil)
            self.tap_ms.append((result.decided_monotonic - seen) * 1000)
            self.queue_wait_s.append(max(waited, 0.0))
            n = self._count_tap(kiosk, pupil, result, progress)
            self._play_incidents(n, confiscate_at, fault_at)
            # The pupil steps aside while the door is used: a few seconds of kiosk time.
            time.sleep(self.o.at_reader_s / self.o.speed)

    def _sleep_until(self, moment: datetime) -> None:
        """Wait in real time until the simulated clock reaches ``moment``."""
        while self.clock.now() < moment:
            time.sleep(min(0.05, max((moment - self.clock.now()).total_seconds()
                                     / self.o.speed, 0.001)))

    def _tap_until_answered(self, kiosk: str, pupil: Any) -> tuple[Any, float]:
        """Tap the pupil's card until the kiosk answers; returns (its result, when tapped)."""
        from firmware_py.interfaces import CardTapped

        tapped: list[float] = []
        for _attempt in range(5):  # nothing on screen (a crashed kiosk): tap again
            k = self.controllers[kiosk]  # a killed kiosk is replaced: look it up each time
            seen = time.monotonic()
            tapped.append(seen)
            k.controller.deliver(CardTapped("arrival", pupil.card_uid, seen))
            deadline = seen + 5
            while (left := deadline - time.monotonic()) > 0:
                try:
                    result = k.results.get(timeout=left)
                except queue.Empty:
                    break
                # The screen answers each tap; an answer to this pupil's earlier tap (late on
                # a busy machine) is hers. One to an earlier pupil's repeated tap is not: that
                # pupil has gone, and taking it for hers would mix two pupils' outcomes.
                if result.read_monotonic in tapped:
                    return result, result.read_monotonic
        raise TimeoutError(f"kiosk {kiosk} stopped answering taps")

    def _count_tap(self, kiosk: str, pupil: Any, result: Any, progress: _PhaseProgress) -> int:
        """Record the tap's outcome and whose phone went where; returns the phase's tap count."""
        with progress.lock:
            self.outcomes[result.outcome.value] += 1
            if result.slot and result.outcome.value.endswith("_opened"):
                self.opened_for.setdefault(pupil.reference, []).append(result.outcome.value)
                self.kiosk_of.setdefault(pupil.reference, kiosk)
            progress.done += 1
            n = progress.done
        if progress.bar is not None:
            progress.bar.update(1)
        return n

    def _play_incidents(self, n: int, confiscate_at: int | None,
                        fault_at: dict[str, int]) -> None:
        """At the n-th tap of the phase, the confiscation and faults planned for it."""
        if confiscate_at is not None and n == confiscate_at:
            self._confiscate()
        for fault, at in fault_at.items():
            if n == at:
                self._inject(fault)

    def _confiscate(self) -> None:
        """The office confiscates a phone already in a locker, naming its custody record (as
        the console's form does): serious misuse, so parent collection only, and it must
        stay shut at home time."""
        from sqlalchemy import text

        candidates = {ref for ref, opened in self.opened_for.items()
                      if opened and ref not in self.exempt and ref not in self.held}
        def heard_of() -> list[str]:  # hand-ins the server has heard of
            with self.services.store.read() as db:
                return list(db.execute(text(
                    "SELECT pupil_ref FROM custody_records WHERE state = 'in_slot' "
                    "ORDER BY id")).scalars())

        # The office confiscates a phone its console shows in a locker: after faults the
        # server may take a few seconds to hear of the morning's hand-ins.
        self._wait(lambda: any(r in candidates for r in heard_of()), 60,
                   "the server to hear of a hand-in to confiscate")
        known = heard_of()
        for ref in (r for r in known if r in candidates):
            in_a_locker = [r for r in self.services.custody.current(ref, site=SITE)
                           if r.state == "in_slot"]
            if not in_a_locker:
                continue
            self.services.confiscations.confiscate(
                "office", ref, "phone used to film a lesson (simulated)", serious=True,
                custody_id=in_a_locker[0].custody_id, site=SITE)
            self.held.add(ref)
            return

    def _inject(self, fault: str) -> None:
        self.notes.append(f"fault injected: {fault}")
        if fault == "broker-restart":
            self.broker.stop()
            time.sleep(2.0)
            self.broker.start()
        elif fault == "network-cut":
            self.controllers[self.kiosk_ids[0]].network.cut(3.0)
        elif fault == "kiosk-kill":
            self._kill_kiosk(self.kiosk_ids[-1])

    def _kill_kiosk(self, kiosk: str) -> None:
        """Drop a kiosk without a clean stop (its link dies, state stays on disk), then boot
        a new controller from the same state, as after a crash."""
        k = self.controllers[kiosk]
        k.pupils.stop()
        k.controller.halt()  # a crash: no goodbye, no clean-shutdown mark
        self._start_kiosk(kiosk, k.key)

    def _still_moving(self) -> str:
        """What keeps the day from closing: each kiosk's outbox and doors not shut."""
        out = []
        for code, k in self.controllers.items():
            v = k.controller.view()
            bank = k.controller.hardware.bank
            odd = " (its switch reads otherwise)"
            busy = [f"{s.number}:{s.state.value}{'/door open' if s.door_open else ''}"
                    f"{'' if bank.door_open(s.number) == s.door_open else odd}"
                    for s in v.slots if s.door_open or s.state.value.startswith("open")]
            out.append(f"{code}: outbox {v.outbox_pending}, online {v.online}, slots {busy}")
        return "; ".join(out)

    def _wait(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}: {self._still_moving()}")
            time.sleep(0.05)

def _user() -> str | None:
    import getpass

    return getpass.getuser() if os.geteuid() == 0 else None
