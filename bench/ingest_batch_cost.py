"""What one ingest batch costs as the number of kiosks in it grows: SQL statements per batch
and CPU per 1,000 events, for batches of 400 events from 4 kiosks (one school) and from 200
(a 50-school trust).

    .venv/bin/python bench/ingest_batch_cost.py [--rounds 10] [--sqlite-only]

The batch goes straight to ``apply_events`` under the kiosks' row lock, as the ingest worker
applies it, on SQLite and on a private PostgreSQL cluster (Debian's, as the tests start it).
Each kiosk's events are slot changes (a slot filled, then emptied), every event in order
(the common case). The
statement count does not depend on how busy the machine is, so it shows costs that grow
with the kiosks in a batch even when the CPU figures are noisy. The CPU is this process's
(ingest's share); PostgreSQL's own work is not in it. The last line:

    ingest_batch_cost sqlite_statements_4=... sqlite_statements_200=... pg_statements_4=...
    pg_statements_200=... pg_cpu_ms_per_1000_4=... pg_cpu_ms_per_1000_200=...
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from lockers.wire import messages as m  # noqa: E402
from lockers.wire.codec import encode  # noqa: E402
from server.ingest.batch import BatchResult  # noqa: E402
from server.ingest.events import apply_events  # noqa: E402
from server.ingest.kiosks import KioskDirectory, KnownKiosk, lock_kiosks  # noqa: E402
from server.store import Store  # noqa: E402
from tests.fixtures.postgres import PostgresCluster, server_bin  # noqa: E402
from tests.server_kit import MORNING, make_clock  # noqa: E402


def prepare(url: str, schools: int) -> list[tuple[str, str]]:
    """Migrate ``url`` and set up ``schools`` schools of 4 kiosks; return (site, kiosk)."""
    from server.migrate import upgrade
    from server.services import Services

    upgrade(url)
    store = Store(url)
    try:
        services = Services(store, make_clock())
        services.admin.create_staff(None, "admin", "Ada Admin", "admin", "correct horse")
        for n in range(schools):
            services.admin.create_site("admin", f"s{n:02d}", f"School {n}")
            for k in range(4):
                services.admin.add_kiosk("admin", f"k{k}", slots=10, site=f"s{n:02d}")
    finally:
        store.dispose()
    return [(f"s{n:02d}", f"k{k}") for n in range(schools) for k in range(4)]


BATCH = 400  # events per batch, whatever the number of kiosks


def _batch(kiosks: list[KnownKiosk], round_: int) -> list[tuple[KnownKiosk, Any, bytes]]:
    """Each kiosk's next slot changes (a slot filled, then emptied, and so on)."""
    items = []
    per_kiosk = BATCH // len(kiosks)
    for kiosk in kiosks:
        for step in range(1, per_kiosk + 1):
            filled = step % 2 == 1
            ev = m.SlotStateEvent(
                kiosk=kiosk.code, site=kiosk.site_code, seq=round_ * per_kiosk + step,
                at=MORNING, slot=1 + ((step - 1) // 2) % 10,
                state=m.SlotState.OCCUPIED if filled else m.SlotState.FREE,
                previous=m.SlotState.FREE if filled else m.SlotState.OCCUPIED)
            items.append((kiosk, ev, encode(ev)))
    return items


def measure(url: str, schools: int, rounds: int) -> tuple[int, float]:
    """Statements per batch (the last round's) and CPU-ms per 1,000 events (all rounds but
    the first, which warms caches) for batches of every kiosk of ``schools`` schools."""
    pairs = prepare(url, schools)
    store = Store(url)
    clock = make_clock()
    directory = KioskDirectory()
    statements = [0]
    event.listen(store.engine, "before_cursor_execute",
                 lambda *_: statements.__setitem__(0, statements[0] + 1))
    with store.write() as s:
        kiosks = [directory.get(s, site, code) for site, code in pairs]
    cpu, events = 0.0, 0
    try:
        for round_ in range(rounds):
            items = _batch(kiosks, round_)
            statements[0] = 0
            started = time.process_time()
            with store.write() as s:
                lock_kiosks(s, {k.id for k in kiosks})
                apply_events(s, clock.now(), items, BatchResult())
            if round_:
                cpu += time.process_time() - started
                events += len(items)
    finally:
        store.dispose()
    return statements[0], 1000 * cpu / events * 1000


def main() -> None:
    """Measure on SQLite and PostgreSQL with 1 and 50 schools; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    figures: dict[str, str] = {}
    folder = Path(tempfile.mkdtemp(prefix="lockers-bench-batch-"))
    for schools in (1, 50):
        n, ms = measure(f"sqlite:///{folder}/s{schools}.db", schools, args.rounds)
        print(f"sqlite kiosks={schools * 4} statements_per_batch={n} "
              f"cpu_ms_per_1000_events={ms:.0f}")
        figures[f"sqlite_statements_{schools * 4}"] = str(n)
        figures[f"sqlite_cpu_ms_per_1000_{schools * 4}"] = f"{ms:.0f}"
    bin_dir = server_bin()
    if not args.sqlite_only and bin_dir is not None:
        cluster = PostgresCluster(bin_dir)
        cluster.start()
        try:
            for schools in (1, 50):
                n, ms = measure(cluster.create_database(), schools, args.rounds)
                print(f"postgresql kiosks={schools * 4} statements_per_batch={n} "
                      f"cpu_ms_per_1000_events={ms:.0f}")
                figures[f"pg_statements_{schools * 4}"] = str(n)
                figures[f"pg_cpu_ms_per_1000_{schools * 4}"] = f"{ms:.0f}"
        finally:
            cluster.stop()
    print("ingest_batch_cost " + " ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
