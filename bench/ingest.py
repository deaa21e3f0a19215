"""Ingest benchmark: events/s from many simulated kiosks through the real broker into SQLite,
each acknowledged after commit, beside the raw broker throughput measured in the same run.

    .venv/bin/python bench/ingest.py [--kiosks 20] [--events 1000]

The simulated kiosks run in their own process (as kiosks are their own machines) and publish
realistic event payloads at QoS 1. The raw figure is the same clients publishing the same
payloads to one plain subscriber: what the broker and paho manage with no server at all.
events_per_s is measured flat out (every kiosk publishing as fast as it can); commit_p95_ms
is measured with the kiosks paced at a quarter of that maximum, because flat out the p95 is
only the length of the backlog (both other figures are printed above it). The last line is
machine-readable:

    ingest events_per_s=... broker_msgs_per_s=... ratio=... commit_p95_ms=...
"""

from __future__ import annotations

import argparse
import getpass
import multiprocessing as mp
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lockers.mqtt import make_client  # noqa: E402
from lockers.wire import messages as m  # noqa: E402
from lockers.wire import topics as t  # noqa: E402
from lockers.wire.codec import decode, encode  # noqa: E402

SITE = "bench"
CARD = "0123456789abcdef0123456789abcdef"


def start_broker(workdir: Path, kiosks: list[str]) -> tuple[object, object]:
    """A private Mosquitto from the production generator (lockers.broker): real password file
    and per-kiosk ACL, persistence off (nothing to keep between runs)."""
    from lockers.broker import (
        BrokerProcess,
        BrokerSetup,
        KioskAccount,
        free_port,
        new_password,
    )

    setup = BrokerSetup(config_dir=workdir / "broker", port=free_port(),
                        server_password=new_password(),
                        kiosks=[KioskAccount(SITE, k, new_password()) for k in kiosks],
                        run_as_user=getpass.getuser(), persistence=False)
    process = BrokerProcess(setup)
    process.start()
    return process, setup


def kiosk_events(kiosk: str, count: int) -> list[m.EventBase]:
    """A morning's events for one kiosk: tap, slot state, door open/close, deposit."""
    events: list[m.EventBase] = []
    pupil = 0
    now = datetime.now(UTC)
    while len(events) < count:
        pupil += 1
        ref, slot, seq = f"P{kiosk}{pupil:04d}", (pupil % 60) + 1, len(events)
        base = {"kiosk": kiosk, "site": SITE, "at": now}
        events += [
            m.TapEvent(**base, seq=seq + 1, reader="r1", card=CARD, pupil_ref=ref,
                       outcome=m.TapOutcome.DEPOSIT_OPENED, slot=slot),
            m.SlotStateEvent(**base, seq=seq + 2, slot=slot, state=m.SlotState.OPEN_FOR_DEPOSIT,
                             previous=m.SlotState.FREE, pupil_ref=ref),
            m.DoorEvent(**base, seq=seq + 3, slot=slot, door="opened", expected=True),
            m.DoorEvent(**base, seq=seq + 4, slot=slot, door="closed", expected=True),
            m.DepositEvent(**base, seq=seq + 5, pupil_ref=ref, slot=slot),
        ]
    return events[:count]


class _Acks:
    """The events each kiosk still waits to see acknowledged, set done when none are left."""

    def __init__(self, kiosks: list[str], per_kiosk: int) -> None:
        self.pending: dict[str, set[int]] = {k: set(range(1, per_kiosk + 1)) for k in kiosks}
        self.done = threading.Event()
        self._lock = threading.Lock()  # paho's network threads, one per kiosk client

    def on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        """Strike the acknowledged sequence numbers off the kiosk's list."""
        ack = decode(t.EVENT_ACKS, msg.payload)
        with self._lock:
            self.pending[ack.kiosk].difference_update(ack.seqs)
            if not any(self.pending.values()):
                self.done.set()


def _connect_kiosk(kiosk: str, account: tuple[str, str], port: int, mode: str,
                   acks: _Acks) -> mqtt.Client:
    """One kiosk's client, connected on its own account; in ingest mode listening for acks."""
    c = make_client(f"{kiosk}-{uuid.uuid4().hex[:4]}", username=account[0],
                    password=account[1])
    c.on_message = acks.on_message
    c.connect("127.0.0.1", port)
    if mode != "raw":
        c.subscribe(t.topic(t.EVENT_ACKS, SITE, kiosk), qos=1)
    c.loop_start()
    return c


def _pump(c: mqtt.Client, kiosk: str, events: list[m.EventBase], started: float,
          gap: float) -> None:
    """Publish one kiosk's events at QoS 1, ``gap`` seconds apart (0: flat out)."""
    topic = t.topic(t.EVENTS, SITE, kiosk)  # the same topics in both modes
    info = None
    for i, ev in enumerate(events):
        if gap:  # paced: hold each kiosk to its share of the rate
            time.sleep(max(0.0, started + i * gap - time.time()))
        # Stamp the publish moment: the server measures publish -> commit from it.
        payload = encode(ev.model_copy(update={"at": datetime.now(UTC)}))
        info = c.publish(topic, payload, qos=1)
    if info is not None:
        info.wait_for_publish(120)


def _publish_all(clients: list[mqtt.Client], kiosks: list[str],
                 templates: dict[str, list[m.EventBase]], started: float, rate: float) -> None:
    """Every kiosk publishing at once, each on its own thread; return when all have sent."""
    gap = len(kiosks) / rate if rate else 0.0
    threads = [threading.Thread(target=_pump, args=(c, k, templates[k], started, gap))
               for c, k in zip(clients, kiosks, strict=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def _kiosk_process(port: int, accounts: dict[str, tuple[str, str]], per_kiosk: int, mode: str,
                   rate: float, go: mp.Event, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Publish every kiosk's events (as fast as possible, or ``rate`` events/s in all); in
    ingest mode also wait for every event's acknowledgement."""
    kiosks = list(accounts)
    acks = _Acks(kiosks, per_kiosk)
    clients = [_connect_kiosk(k, accounts[k], port, mode, acks) for k in kiosks]
    templates = {k: kiosk_events(k, per_kiosk) for k in kiosks}
    time.sleep(0.5)  # let subscriptions settle before the clock starts
    out.put("ready")
    go.wait()
    started = time.time()
    _publish_all(clients, kiosks, templates, started, rate)
    published = time.time()
    if mode != "raw":
        acks.done.wait(300)
    out.put((started, published, time.time()))
    for c in clients:
        c.disconnect()
        c.loop_stop()


def run_kiosks(setup: object, per_kiosk: int, mode: str, rate: float = 0.0
               ) -> tuple[mp.Process, mp.Queue, mp.Event]:  # type: ignore[type-arg]
    """Start the kiosk process and wait until it is ready."""
    go, out = mp.Event(), mp.Queue()
    accounts = {a.kiosk: (a.username, a.password) for a in setup.kiosks}  # type: ignore
    proc = mp.Process(target=_kiosk_process, args=(setup.port, accounts,  # type: ignore
                                                   per_kiosk, mode, rate, go, out))
    proc.start()
    assert out.get(timeout=60) == "ready"
    return proc, out, go


def measure_broker(setup: object, per_kiosk: int) -> float:
    """Raw broker throughput: the kiosks' event publishes to one plain QoS 1 subscriber on the
    server's account and shared subscription, doing nothing but count."""
    total = len(setup.kiosks) * per_kiosk  # type: ignore[attr-defined]
    received = 0
    last = [0.0]
    all_in = threading.Event()

    def on_message(_c: object, _u: object, _msg: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1
        if received == total:
            last[0] = time.time()
            all_in.set()

    sub = make_client("raw-sub", username=setup.server_username,  # type: ignore[attr-defined]
                      password=setup.server_password)  # type: ignore[attr-defined]
    sub.on_message = on_message
    sub.connect("127.0.0.1", setup.port)  # type: ignore[attr-defined]
    sub.subscribe(t.shared(t.filter_all_kiosks(t.EVENTS), "raw"), qos=1)
    sub.loop_start()
    proc, out, go = run_kiosks(setup, per_kiosk, "raw")
    go.set()
    started, _published, _ = out.get(timeout=300)
    if not all_in.wait(300):
        raise SystemExit(f"raw subscriber got {received}/{total}")
    proc.join(30)
    sub.disconnect()
    sub.loop_stop()
    return total / (last[0] - started)


def measure_ingest(setup: object, per_kiosk: int, workdir: Path, rate: float = 0.0
                   ) -> tuple[float, float, int]:
    """Events/s through the real server into a fresh SQLite file, acked; and the p95 time
    from publish to commit. ``rate`` paces the kiosks (0: as fast as they can)."""
    from server.config import ServerConfig
    from server.migrate import upgrade
    from server.models import Kiosk, Pupil, Site, Slot
    from server.mqtt_link import MqttSettings
    from server.runtime import ServerRuntime

    url = f"sqlite:///{workdir}/bench-{int(rate)}.db"
    upgrade(url)
    kiosks = [a.kiosk for a in setup.kiosks]  # type: ignore[attr-defined]
    config = ServerConfig(database_url=url, mqtt=MqttSettings(
        port=setup.port, username=setup.server_username,  # type: ignore[attr-defined]
        password=setup.server_password, client_id="bench-server"),  # type: ignore
        replica_tick_s=600, ingest_max_batch=500)
    rt = ServerRuntime(config, keep_latencies=True)
    with rt.store.write() as s:
        site = Site(code=SITE, name="Bench", card_hash_key="k" * 64)
        s.add(site)
        s.flush()
        for k in kiosks:  # a school as installed: kiosks with their slots, pupils on roll
            kiosk = Kiosk(site_id=site.id, code=k)
            s.add(kiosk)
            s.flush()
            s.add_all(Slot(kiosk_id=kiosk.id, number=n) for n in range(1, 61))
            s.add_all(Pupil(site_id=site.id, reference=f"P{k}{n:04d}", first_name="Pupil",
                            last_name=str(n)) for n in range(1, per_kiosk // 5 + 2))
    rt.start()
    deadline = time.monotonic() + 30
    while rt.replica.publishes < len(kiosks) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc, out, go = run_kiosks(setup, per_kiosk, "ingest", rate)
    go.set()
    started, _published, acked = out.get(timeout=600)
    proc.join(30)
    stats = rt.ingest.stats
    rt.stop()
    total = len(kiosks) * per_kiosk
    if stats.applied != total:
        raise SystemExit(f"server applied {stats.applied} of {total} events")
    lat = sorted(stats.commit_latencies)
    p95 = lat[int(0.95 * (len(lat) - 1))] * 1000 if lat else float("nan")
    here = sorted(stats.server_latencies)
    if here:
        print(f"  (p95 from the server receiving an event to its commit: "
              f"{here[int(0.95 * (len(here) - 1))] * 1000:.0f} ms)")
    return total / (acked - started), p95, stats.batches


def main() -> None:
    """Run both measurements against one broker and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=20)
    parser.add_argument("--events", type=int, default=1000, help="events per kiosk")
    args = parser.parse_args()
    kiosks = [f"k{i:02d}" for i in range(1, args.kiosks + 1)]
    workdir = Path(tempfile.mkdtemp(prefix="lockers-bench-"))
    broker, setup = start_broker(workdir, kiosks)
    try:
        broker_rate = measure_broker(setup, args.events)
        print(f"broker: {broker_rate:.0f} msgs/s ({len(kiosks)} publishers -> 1 subscriber, "
              "QoS 1)")
        rate, flat_p95, batches = measure_ingest(setup, args.events, workdir)
        total = len(kiosks) * args.events
        print(f"server: {rate:.0f} events/s committed to SQLite and acked "
              f"({total} events, {batches} batches; flat out, p95 publish->commit "
              f"{flat_p95:.0f} ms is queueing behind the backlog)")
        # Latency means something only below saturation: measure at a half and a quarter
        # of the maximum (a real morning rush is far below either: ~10 events/s a school).
        p95 = float("nan")
        for share in (2, 4):
            paced = rate / share
            _, p95, _ = measure_ingest(setup, max(50, args.events // 4), workdir, rate=paced)
            print(f"server at {paced:.0f} events/s (1/{share} of its maximum): p95 "
                  f"publish->commit {p95:.0f} ms")
    finally:
        broker.stop()  # type: ignore[attr-defined]
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"ingest events_per_s={rate:.0f} broker_msgs_per_s={broker_rate:.0f} "
          f"ratio={rate / broker_rate:.2f} commit_p95_ms={p95:.0f}")


if __name__ == "__main__":
    main()
