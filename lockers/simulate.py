"""``lockers simulate``: a school day at speed, with real components, and its report.

Real Mosquitto (generated accounts and ACL), the real server as its own process (SQLite),
real kiosk controllers on mock pins and sim expanders, simulated pupils at the doors. Card
reads enter the controllers as the reader service would hand them over (the PC/SC path is
measured on its own by bench/tap_to_open.py). A monitor on the broker sees every event and
every acknowledgement, so losses and commit latency are measured from outside.
"""

from __future__ import annotations

import json
import os
import queue
import random
import resource
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

import paho.mqtt.client as mqtt
import tomli_w

from lockers.broker import BrokerProcess, BrokerSetup, KioskAccount, free_port, new_password
from lockers.clock import ScaledClock
from lockers.demo_school import make_pupils, seed_school
from lockers.wire import decode_topic
from lockers.wire import messages as m
from lockers.wire import topics as t

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


@dataclass
class Monitor:
    """A server-account client that watches events and acknowledgements on the broker."""

    first_seen: dict[tuple[str, int], float] = field(default_factory=dict)
    commit_ms: list[float] = field(default_factory=list)
    acked: set[tuple[str, int]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        try:
            parsed, message = decode_topic(msg.topic, msg.payload)
        except Exception:  # noqa: BLE001 - the monitor only counts what is valid
            return
        with self.lock:
            if isinstance(message, m.EventBase):
                self.first_seen.setdefault((parsed.kiosk, message.seq), now)
            elif isinstance(message, m.EventAck):
                for seq in message.seqs:
                    key = (parsed.kiosk, seq)
                    if key not in self.acked and key in self.first_seen:
                        self.commit_ms.append((now - self.first_seen[key]) * 1000)
                    self.acked.add(key)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))], 2)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


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
        self.controllers: dict[str, Any] = {}
        self.held: set[str] = set()
        self.exempt = {p.reference for p in self.pupils[:3]}
        self.opened_for: dict[str, list[str]] = {}
        self.kiosk_of: dict[str, str] = {}
        self.notes: list[str] = []

    # --- the run ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Run the day and return the report."""
        o = self.o
        start_local = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
        self.clock = ScaledClock(start_local, o.speed)
        today = start_local.date()
        opens = (start_local + timedelta(minutes=o.arrival_minutes + 10)).time()
        closes = dtime(23, 0)
        self.broker = BrokerProcess(BrokerSetup(
            config_dir=self.dir / "broker", port=free_port(), server_password=new_password(),
            kiosks=[KioskAccount(SITE, k, new_password()) for k in self.kiosk_ids],
            run_as_user=_user(), server_processes=2))  # the monitor watches as "server-2"
        self.broker.start()
        url = f"sqlite:///{self.dir / 'lockers.db'}"
        self.services, key = seed_school(url, self.pupils, self.kiosk_ids, o.slots, today,
                                         opens, closes, self.dir, site=SITE)
        server = self._start_server(url)
        monitor = self._start_monitor()
        try:
            for kiosk in self.kiosk_ids:
                self._start_kiosk(kiosk, key)
            self._wait(lambda: all(c.replica.version >= 1 for c in self.controllers.values()),
                       60, "every kiosk to receive its policy")
            self._morning()
            if o.collect:
                self._wait(lambda: self.clock.now().time() >= opens, 600,
                           "the release window")
                self._afternoon()
            self._wait(lambda: all(c.store.pending_count() == 0
                                   for c in self.controllers.values()), 120,
                       "every kiosk's outbox to drain")
            return self._report(server, monitor)
        finally:
            for c in self.controllers.values():
                c.stop()
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
            self.broker.stop()

    def _start_server(self, url: str) -> subprocess.Popen[bytes]:
        (self.dir / "server.password").write_text(self.broker.setup.server_password)
        config = {"database": {"url": url},
                  "mqtt": {"host": "127.0.0.1", "port": self.broker.setup.port,
                           "username": "server", "password_file": "server.password",
                           "client_id": "sim-server"},
                  "web": {"host": "127.0.0.1", "port": free_port()},
                  "server": {"replica_tick_s": 5, "log_level": "WARNING"}}
        (self.dir / "server.toml").write_bytes(tomli_w.dumps(config).encode())
        log = open(self.dir / "server.log", "wb")  # noqa: SIM115
        return subprocess.Popen([sys.executable, "-m", "lockers.cli", "server", "--config",
                                 str(self.dir / "server.toml")], stdout=log,
                                stderr=subprocess.STDOUT)

    def _start_monitor(self) -> Monitor:
        monitor = Monitor()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sim-monitor",
                             protocol=mqtt.MQTTv5)
        # Its own account: the broker binds each account to one client id (lockers.broker).
        client.username_pw_set("server-2", self.broker.setup.server_password)
        client.on_message = monitor.on_message
        client.on_connect = lambda c, *_: c.subscribe(
            [(t.filter_all_kiosks(t.EVENTS), 1), (t.filter_all_kiosks(t.EVENT_ACKS), 1)])
        client.reconnect_delay_set(0.1, 1)
        client.connect("127.0.0.1", self.broker.setup.port)
        client.loop_start()
        self.monitor_client = client
        return monitor

    def _start_kiosk(self, kiosk: str, key: str) -> None:
        from firmware_py.sim.pupils import SimPupils
        from locker_controller.run import build_controller
        from lockers.kiosk_config import BrokerConfig, KioskConfig, RelayConfig

        account = next(a for a in self.broker.setup.kiosks if a.kiosk == kiosk)
        config = KioskConfig(
            site=SITE, kiosk=kiosk, card_key=key, state_dir=self.dir / kiosk,
            pinmap=Path(__file__).resolve().parents[1] / "hardware" / "pinmaps" / "sim60.toml",
            relays=RelayConfig(pulse_s=0.5 / max(self.o.speed / 10, 1),
                               max_coils=self.o.doors_at_once, max_on_s=3.0),
            broker=BrokerConfig(host="127.0.0.1", port=self.broker.setup.port,
                                username=account.username, password=account.password,
                                reconnect_max_s=2),
            readers=[], tap_hold_off_s=0.0)
        controller, world = build_controller(config, sim=True)
        controller.clock = self.clock
        pupils = SimPupils(world, open_after_s=2.0, close_after_s=6.0,  # type: ignore[arg-type]
                           seed=self.o.seed, speed=self.o.speed)
        results: queue.Queue[Any] = queue.Queue()
        controller.subscribe(lambda r: results.put(r) if type(r).__name__ == "TapResult"
                             else None)
        controller.start()
        pupils.start()
        controller.sim_results = results  # type: ignore[attr-defined]
        controller.sim_pupils = pupils  # type: ignore[attr-defined]
        self.controllers[kiosk] = controller

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
        from firmware_py.interfaces import CardTapped

        lanes: dict[str, list[tuple[float, Any]]] = {k: [] for k in self.kiosk_ids}
        for i, item in enumerate(arrivals):
            # In the morning pupils spread over the kiosks; at home time each goes back to
            # the kiosk holding their phone.
            kiosk = self.kiosk_of.get(item[1].reference) if phase == "departure" else None
            lanes[kiosk or self.kiosk_ids[i % len(self.kiosk_ids)]].append(item)
        done = [0]
        lock = threading.Lock()
        bar = None
        if self.o.progress:
            from tqdm import tqdm

            bar = tqdm(total=len(arrivals), desc=f"{phase} taps", unit="tap", file=sys.stderr)

        def lane(kiosk: str, items: list[tuple[float, Any]]) -> None:
            day0 = self.clock.now().replace(hour=8, minute=0, second=0, microsecond=0)
            for arrive_s, pupil in items:
                arrive = day0 + timedelta(seconds=arrive_s)
                while self.clock.now() < arrive:
                    time.sleep(min(0.05, max((arrive - self.clock.now()).total_seconds()
                                             / self.o.speed, 0.001)))
                waited = (self.clock.now() - arrive).total_seconds()
                for _attempt in range(5):  # nothing on screen (a crashed kiosk): tap again
                    c = self.controllers[kiosk]
                    seen = time.monotonic()
                    c.inbox.put(CardTapped("arrival", pupil.card_uid, seen))
                    try:
                        result = c.sim_results.get(timeout=5)
                        break
                    except queue.Empty:
                        continue
                else:
                    raise TimeoutError(f"kiosk {kiosk} stopped answering taps")
                self.tap_ms.append((result.decided_monotonic - seen) * 1000)
                self.queue_wait_s.append(max(waited, 0.0))
                with lock:
                    self.outcomes[result.outcome.value] += 1
                    if result.slot and result.outcome.value.endswith("_opened"):
                        self.opened_for.setdefault(pupil.reference, []).append(
                            result.outcome.value)
                        self.kiosk_of.setdefault(pupil.reference, kiosk)
                    done[0] += 1
                    n = done[0]
                if bar is not None:
                    bar.update(1)
                if confiscate_at is not None and n == confiscate_at:
                    self._confiscate()
                for fault, at in fault_at.items():
                    if n == at:
                        self._inject(fault)
                # The pupil steps aside while the door is used: a few seconds of kiosk time.
                time.sleep(3.0 / self.o.speed)

        threads = [threading.Thread(target=lane, args=(k, v), daemon=True)
                   for k, v in lanes.items()]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if bar is not None:
            bar.close()

    def _confiscate(self) -> None:
        for ref, opened in self.opened_for.items():
            if opened and ref not in self.exempt and ref not in self.held:
                # Serious misuse: parent collection only, so it must stay shut at home time.
                self.services.confiscations.confiscate(
                    "office", ref, "phone used to film a lesson (simulated)", serious=True)
                self.held.add(ref)
                return

    def _inject(self, fault: str) -> None:
        self.notes.append(f"fault injected: {fault}")
        if fault == "broker-restart":
            self.broker.stop()
            time.sleep(2.0)
            self.broker.start()
        elif fault == "network-cut":
            link = self.controllers[self.kiosk_ids[0]].link
            link.client.disconnect()  # ends paho's loop: bring both back after the cut

            def restore() -> None:
                link.client.reconnect()
                link.client.loop_start()

            threading.Timer(3.0, restore).start()
        elif fault == "kiosk-kill":
            self._kill_kiosk(self.kiosk_ids[-1])

    def _kill_kiosk(self, kiosk: str) -> None:
        """Drop a kiosk without a clean stop (its link dies, state stays on disk), then boot
        a new controller from the same state, as after a crash."""
        c = self.controllers[kiosk]
        c.sim_pupils.stop()
        c._stop.set()  # noqa: SLF001 - a crash: no goodbye, no clean-shutdown mark
        c.inbox.put(None)
        c.link.client.socket().close() if c.link.client.socket() else None
        c.link.client.loop_stop()
        c.hardware.close()
        c.store.close()
        key = c.config.card_key
        self._start_kiosk(kiosk, key)

    def _wait(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.05)

    # --- the report -------------------------------------------------------------------------

    def _report(self, server: subprocess.Popen[bytes], monitor: Monitor) -> dict[str, Any]:
        from sqlalchemy import create_engine, text

        time.sleep(0.5)
        sent = {k: c.store.next_seq - 1 for k, c in self.controllers.items()}
        engine = create_engine(f"sqlite:///{self.dir / 'lockers.db'}")
        with engine.connect() as db:
            rows = db.execute(text(
                "SELECT k.code, count(*), count(DISTINCT e.seq) FROM events e "
                "JOIN kiosks k ON k.id = e.kiosk_id GROUP BY k.code")).all()
            deposits_in_db = db.execute(text("SELECT count(*) FROM deposits")).scalar_one()
        engine.dispose()
        committed = {code: distinct for code, _n, distinct in rows}
        duplicates = sum(n - distinct for _c, n, distinct in rows)
        lost = sum(max(sent[k] - committed.get(k, 0), 0) for k in sent)
        snapshot_states = Counter()
        exempt_opened = [ref for ref in self.exempt if self.opened_for.get(ref)]
        held_slots: dict[str, str] = {}
        for c in self.controllers.values():
            for slot in c.slots.values():
                snapshot_states[slot.state.value] += 1
                if slot.pupil_ref in self.held:
                    held_slots[slot.pupil_ref] = slot.state.value
        # Every parent-only held phone is still in its slot, held, at close.
        held_still_held = all(held_slots.get(ref) == "held" for ref in self.held)
        deposits = self.outcomes.get("deposit_opened", 0)
        releases = self.outcomes.get("release_opened", 0) + self.outcomes.get(
            "early_release_opened", 0)
        report = {
            "pupils": self.o.pupils, "kiosks": self.o.kiosks,
            "slots_per_kiosk": self.o.slots, "speed": self.o.speed, "seed": self.o.seed,
            "taps": sum(self.outcomes.values()),
            "deposits": deposits, "releases": releases,
            "refused_by_reason": {k: v for k, v in sorted(self.outcomes.items())
                                  if not k.endswith("_opened")},
            "held": len(self.held), "exempt": self.outcomes.get("exempt", 0),
            "events_sent": sum(sent.values()), "events_committed": sum(committed.values()),
            "events_lost": lost, "duplicates_applied": duplicates,
            "deposits_recorded": deposits_in_db,
            "uncollected_at_close": snapshot_states.get("occupied", 0)
            + snapshot_states.get("held", 0),
            "tap_to_open_ms": {"p50": _pct(self.tap_ms, 50), "p95": _pct(self.tap_ms, 95),
                               "p99": _pct(self.tap_ms, 99)},
            "event_to_commit_ms": {"p50": _pct(monitor.commit_ms, 50),
                                   "p95": _pct(monitor.commit_ms, 95)},
            "max_queue_wait_s": round(max(self.queue_wait_s, default=0.0), 1),
            "peak_rss_mb": {"simulator_and_kiosks": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "server": _rss_mb(server.pid),
                "broker": _rss_mb(self.broker._proc.pid) if self.broker._proc else 0.0},  # noqa: SLF001
            "invariants": {"held_phones_still_held": held_still_held,
                           "exempt_pupils_never_opened_a_slot": not exempt_opened,
                           "slot_states_at_close": dict(snapshot_states)},
            "notes": self.notes,
        }
        return report


def _user() -> str | None:
    import getpass

    return getpass.getuser() if os.geteuid() == 0 else None


def human(report: dict[str, Any]) -> str:
    """The report in words."""
    r = report
    lines = [
        f"Simulated day: {r['pupils']} pupils, {r['kiosks']} kiosks x {r['slots_per_kiosk']} "
        f"slots, x{r['speed']} speed, seed {r['seed']}",
        f"taps {r['taps']}: deposits {r['deposits']}, releases {r['releases']}, "
        f"held {r['held']}, exempt {r['exempt']}",
        f"refused: {r['refused_by_reason'] or 'none'}",
        f"events sent {r['events_sent']}, committed {r['events_committed']}, "
        f"lost {r['events_lost']}, duplicates applied {r['duplicates_applied']}",
        f"tap to open (decision) ms p50/p95/p99: {r['tap_to_open_ms']['p50']} / "
        f"{r['tap_to_open_ms']['p95']} / {r['tap_to_open_ms']['p99']}",
        f"event to commit (publish to server ack) p95: {r['event_to_commit_ms']['p95']} ms",
        f"longest queue wait at a kiosk: {r['max_queue_wait_s']} s (simulated)",
        f"peak memory MB: {r['peak_rss_mb']}",
        f"uncollected at close: {r['uncollected_at_close']}",
    ]
    if r["events_lost"] or r["duplicates_applied"]:
        lines.append(f"FAILURE: {r['events_lost']} events LOST and "
                     f"{r['duplicates_applied']} DUPLICATES applied: this must never happen")
    else:
        lines.append("Nothing was lost and nothing was applied twice.")
    inv = r["invariants"]
    if not inv["held_phones_still_held"]:
        lines.append("FAILURE: a held phone was not held at close")
    if not inv["exempt_pupils_never_opened_a_slot"]:
        lines.append("FAILURE: an exempt pupil opened a slot")
    lines += r["notes"]
    return "\n".join(lines)


def to_json(report: dict[str, Any]) -> str:
    """The report as JSON."""
    return json.dumps(report, indent=2, sort_keys=True)
