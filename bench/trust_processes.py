"""Several server processes on one PostgreSQL database (#17): events/s with one and with two
processes in the same run, and a process killed mid-burst.

    .venv/bin/python bench/trust_processes.py [--schools 4] [--kiosks 3] [--events 1000]
    .venv/bin/python bench/trust_processes.py --only-one --schools 50 --kiosks 4 --events 100

The second form measures one process's CPU-seconds per 1,000 events at a trust's size, to
compare with one school's (``--schools 1 --kiosks 4 --events 1000``).

Everything is real: a private PostgreSQL cluster (Debian's, as the tests start it), one
Mosquitto with the production ACL, server processes (tests/server_child.py) on their own
broker accounts sharing the kiosks' traffic, and kiosks (in a process of their own) that keep
every event until the server acknowledges it and offer the unacknowledged ones again as
real kiosks do (when the server asks, or when the oldest is overdue: ADR 0009). Each kiosk
sends slot changes (a slot filled, then emptied), so the slots' final states show whether its
events were applied in its order.

Checked after every run: lost (events not stored), twice (events applied more than once:
audit entries beyond the events stored), false_alarms (sequence-gap alarms open once every
event is stored), wrong_slots (a slot whose state is not the kiosk's last word). The kill run
kills one of two processes (SIGKILL) a third of the way through and measures the time from
the kill until every event in flight at the kill (offered, not yet acknowledged: what the
dead process may have held) is committed, and until the last event of the burst is (which
includes the rest of the burst, done by one process). The last line:

    trust_processes one_events_per_s=... two_events_per_s=... ratio=... lost=0 twice=0
    false_alarms=0 wrong_slots=0 kill_to_last_commit_s=... kill_in_flight_s=... cores=...
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from server.models import Alarm, AuditEntry, Event, Kiosk, Site, Slot  # noqa: E402
from server.store import Store  # noqa: E402
from tests.fixtures.broker import Broker  # noqa: E402
from tests.fixtures.postgres import PostgresCluster, server_bin  # noqa: E402
from tests.trust_kit import ServerProcess, last_states, slot_events  # noqa: E402


def prepare(url: str, schools: list[str], kiosks: list[str]) -> None:
    """Migrate a fresh database and set up the schools and their kiosks."""
    from server.migrate import upgrade
    from server.services import Services
    from tests.server_kit import make_clock

    upgrade(url)
    store = Store(url)
    try:
        services = Services(store, make_clock())
        services.admin.create_staff(None, "admin", "Ada Admin", "admin", "correct horse")
        for code in schools:
            services.admin.create_site("admin", code, f"School {code}")
            for k in kiosks:
                services.admin.add_kiosk("admin", k, slots=10, site=code)
    finally:
        store.dispose()


def _kiosk_side(host: str, port: int, accounts: list[tuple[str, str, str, str]],
                per_kiosk: int, go: Any, killed: Any, out: Any) -> None:
    """The kiosks: connect, wait for ``go``, send every event, wait for every ack. When
    ``killed`` is set, note the events offered and not yet acknowledged (what the dead process
    may have held) and when the last of them is acknowledged."""
    from tests.trust_kit import ResendingKiosk

    kiosks = [ResendingKiosk(host, port, site, code, user, pw)
              for site, code, user, pw in accounts]
    recovered: list[float] = []
    watcher = threading.Thread(target=_watch_recovery, args=(kiosks, killed, recovered),
                               daemon=True)
    watcher.start()
    out.put("ready")
    go.wait()
    started = time.time()
    for k in kiosks:
        k.send(slot_events(k, per_kiosk))
    for k in kiosks:
        k.wait_for(lambda kk: kk.all_acked(), timeout=600, what="every event acknowledged")
    done = time.time()
    watcher.join(5)
    out.put((started, done, sum(k.resends for k in kiosks), sum(k.asked for k in kiosks),
             recovered[0] if recovered else None))
    for k in kiosks:
        k.close()


def _watch_recovery(kiosks: list[Any], killed: Any, recovered: list[float]) -> None:
    """After the kill: the time the last event in flight at the kill is acknowledged."""
    if not killed.wait(900):
        return
    in_flight = [(k, k.in_flight()) for k in kiosks]
    for k, seqs in in_flight:
        k.wait_for(lambda kk, seqs=seqs: seqs <= kk.acked, timeout=600,
                   what="the events in flight at the kill")
    recovered.append(time.time())


def _cpu_s(servers: list[ServerProcess]) -> float:
    """CPU seconds (user + system) the server processes have used so far (/proc, Linux)."""
    total = 0.0
    for srv in servers:
        if srv.proc is None or srv.proc.poll() is not None:
            continue
        fields = Path(f"/proc/{srv.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _stored(store: Store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Event)) or 0


def check(store: Store, per_kiosk: int) -> dict[str, int]:
    """lost, twice, false_alarms, wrong_slots (and gap alarms raised and cleared) once every
    event is acknowledged."""
    with store.read() as s:
        kiosks = s.execute(select(Kiosk.id, Kiosk.code, Site.code).join(
            Site, Kiosk.site_id == Site.id)).all()
        stored = s.scalar(select(func.count(func.distinct(Event.kiosk_id * 1_000_000
                                                          + Event.seq)))) or 0
        audited = s.scalar(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action.like("event.%"))) or 0
        alarms = s.scalar(select(func.count()).select_from(Alarm).where(
            Alarm.kind == "sequence_gap", Alarm.cleared_at.is_(None))) or 0
        # Raised while an early event waited for its predecessor, and cleared when it came
        # (milliseconds later with two processes): not false, but staff may see them flicker.
        raised = s.scalar(select(func.count()).select_from(Alarm).where(
            Alarm.kind == "sequence_gap")) or 0
        wrong = 0
        for kid, code, site in kiosks:
            want = last_states(slot_events(_Named(site, code), per_kiosk))
            have = dict(s.execute(select(Slot.number, Slot.state)
                                  .where(Slot.kiosk_id == kid)).all())
            wrong += sum(1 for n, state in want.items() if have.get(n) != state)
    return {"lost": len(kiosks) * per_kiosk - stored, "twice": audited - stored,
            "false_alarms": alarms, "wrong_slots": wrong, "gap_alarms_raised": raised}


class _Named:
    """What slot_events needs of a kiosk: its site and code."""

    def __init__(self, site: str, kiosk: str) -> None:
        self.site, self.kiosk = site, kiosk


def _owned(store: Store) -> tuple[int, int]:
    """(schools owned, processes owning them) under ``[mqtt] affinity``."""
    from server.affinity import SITE_SPACE

    with store.read() as s:
        row = s.execute(text("SELECT count(*), count(DISTINCT pid) FROM pg_locks WHERE "
                             "locktype = 'advisory' AND granted AND classid = CAST(:a AS oid)"),
                        {"a": SITE_SPACE}).one()
    return int(row[0]), int(row[1])


def run(cluster: PostgresCluster, broker: Broker, accounts: list[tuple[str, str, str, str]],
        per_kiosk: int, processes: int, kill: bool, folder: Path,
        affinity: bool = False) -> dict[str, float]:
    """One run on a fresh database; returns its figures."""
    url = cluster.create_database()
    schools = sorted({a[0] for a in accounts})
    prepare(url, schools, sorted({a[1] for a in accounts}))
    servers = [ServerProcess(url, broker, n, folder / f"run{processes}{kill}{affinity}-{n}",
                             affinity=affinity).start()
               for n in range(1, processes + 1)]
    store = Store(url)
    try:
        for srv in servers:
            srv.wait_ready()
        while affinity and _owned(store) != (len(schools), processes):
            time.sleep(0.1)  # every school owned, by every process
        if affinity:
            time.sleep(0.5)  # and subscribed to
        go, killed, out = mp.Event(), mp.Event(), mp.Queue()
        side = mp.Process(target=_kiosk_side, args=(broker.host, broker.port, accounts,
                                                    per_kiosk, go, killed, out))
        side.start()
        assert out.get(timeout=120) == "ready"
        cpu_before = _cpu_s(servers)
        go.set()
        killed_at = None
        if kill:
            total = len(accounts) * per_kiosk
            while _stored(store) < total // 3:
                time.sleep(0.05)  # a benchmark may wait on the clock; tests never do
            servers[0].kill()
            killed_at = time.time()
            killed.set()
        started, done, resends, asked, recovered = out.get(timeout=900)
        cpu = _cpu_s(servers) - cpu_before
        side.join(30)
        figures: dict[str, float] = {"events": len(accounts) * per_kiosk,
                                     "seconds": done - started, "resends": resends, "asked": asked,
                                     **check(store, per_kiosk)}
        figures["events_per_s"] = figures["events"] / figures["seconds"]
        if not kill:  # a killed process takes its CPU count with it
            figures["cpu_s_per_1000"] = cpu / figures["events"] * 1000
        if killed_at is not None:
            figures["kill_to_last_commit_s"] = done - killed_at
            figures["kill_to_in_flight_committed_s"] = recovered - killed_at
        return figures
    finally:
        for srv in servers:
            srv.stop()
        store.dispose()
        cluster.drop_database(url)


def main() -> None:
    """Run one process, two processes and the kill, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=4)
    parser.add_argument("--kiosks", type=int, default=3, help="per school")
    parser.add_argument("--events", type=int, default=1000, help="per kiosk")
    parser.add_argument("--only-one", action="store_true",
                        help="one process only: the cost per event at this many schools")
    args = parser.parse_args()
    bin_dir = server_bin()
    if bin_dir is None:
        sys.exit("PostgreSQL is not installed: apt-get install -y postgresql")
    pairs = [(f"s{n}", f"k{k}") for n in range(1, args.schools + 1)
             for k in range(1, args.kiosks + 1)]
    folder = Path(tempfile.mkdtemp(prefix="lockers-bench-trust-"))
    cluster = PostgresCluster(bin_dir)
    broker = Broker(folder / "broker", pairs)
    cluster.start()
    broker.start()
    try:
        accounts = [(site, code, broker.kiosk(site, code).username,
                     broker.kiosk(site, code).password) for site, code in pairs]
        results = {}
        modes = [("one", 1, False, False), ("two", 2, False, False), ("kill", 2, True, False),
                 ("two_affinity", 2, False, True), ("kill_affinity", 2, True, True)]
        for name, procs, kill, affinity in modes[:1] if args.only_one else modes:
            results[name] = run(cluster, broker, accounts, args.events, procs, kill, folder,
                                affinity)
            print(f"{name}: " + " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in results[name].items()), flush=True)
    finally:
        broker.close()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    bad = {k: sum(int(r[k]) for r in results.values())
           for k in ("lost", "twice", "false_alarms", "wrong_slots")}
    if args.only_one:
        print(f"trust_scale schools={args.schools} kiosks={len(pairs)} "
              f"events={results['one']['events']} "
              f"cpu_s_per_1000_events={results['one']['cpu_s_per_1000']:.3f} "
              f"events_per_s={results['one']['events_per_s']:.0f} lost={bad['lost']} "
              f"twice={bad['twice']} wrong_slots={bad['wrong_slots']} cores={os.cpu_count()}")
        return
    one, two = results["one"]["events_per_s"], results["two"]["events_per_s"]
    aff = results["two_affinity"]["events_per_s"]
    print(f"machine: {os.cpu_count()} cores (shared with whatever else runs); "
          f"{len(pairs)} kiosks in {args.schools} schools, {args.events} events each")
    print(f"trust_processes one_events_per_s={one:.0f} two_events_per_s={two:.0f} "
          f"ratio={two / one:.2f} two_affinity_events_per_s={aff:.0f} "
          f"ratio_affinity={aff / one:.2f} lost={bad['lost']} twice={bad['twice']} "
          f"false_alarms={bad['false_alarms']} wrong_slots={bad['wrong_slots']} "
          f"kill_to_last_commit_s={results['kill']['kill_to_last_commit_s']:.2f} "
          f"kill_in_flight_s={results['kill']['kill_to_in_flight_committed_s']:.2f} "
          f"kill_affinity_s={results['kill_affinity']['kill_to_last_commit_s']:.2f} "
          f"kill_affinity_in_flight_s="
          f"{results['kill_affinity']['kill_to_in_flight_committed_s']:.2f} "
          f"cores={os.cpu_count()}")


if __name__ == "__main__":
    main()
