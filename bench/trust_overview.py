"""Benchmark: the trust overview for a 50-school trust (4 kiosks and 300 pupils a school).

Fills one SQLite database with a school morning at every school (most pupils handed in,
devices in slots, some confiscated and held, a term's breaches, some kiosks offline), then
times the trust overview page over HTTP as a trust role (the real web app under uvicorn) and
one school's compliance report as that school's leadership. The figure to watch:
``trust_page_ms`` (target under 1,000 ms).

Run: .venv/bin/python bench/trust_overview.py [--schools 50] [--rounds 7]
Last line: trust_overview schools=... trust_page_ms=... compliance_ms=...
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

KIOSKS, PUPILS, SLOTS = 4, 300, 80
DAY = date(2026, 11, 23)
MORNING = datetime(2026, 11, 23, 8, 40, tzinfo=UTC)
PASSWORD = "bench pass 123"


def _fill(services: Any, schools: int) -> None:
    """Every school's kiosks, pupils, deposits, custody and confiscations (bulk inserts)."""
    from sqlalchemy import insert, select

    from server.models import (
        Confiscation,
        CustodyRecord,
        Deposit,
        Kiosk,
        Pupil,
        Site,
        Slot,
        Staff,
    )

    rng = random.Random(17)
    admin = services.admin
    admin.create_staff(None, "admin", "Trust Admin", "admin", PASSWORD)
    admin.create_staff("admin", "trustlead", "Trust Lead", "trust", PASSWORD)
    for n in range(schools):
        admin.create_site("admin", f"s{n:02d}", f"School {n:02d}")
    admin.create_staff("admin", "head00", "Head 00", "leadership", PASSWORD, site="s00")
    with services.store.write() as s:
        staff_id = s.scalar(select(Staff.id).where(Staff.username == "admin"))
        sites = s.scalars(select(Site.id).order_by(Site.id)).all()
        s.execute(insert(Kiosk), [{"site_id": sid, "code": f"k{k}", "name": f"k{k}",
                                   "online": rng.random() > 0.05}
                                  for sid in sites for k in range(KIOSKS)])
        kiosks = {sid: s.scalars(select(Kiosk.id).where(Kiosk.site_id == sid)).all()
                  for sid in sites}
        s.execute(insert(Slot), [{"kiosk_id": k, "number": i + 1} for ks in kiosks.values()
                                 for k in ks for i in range(SLOTS)])
        s.execute(insert(Pupil), [{"site_id": sid, "reference": f"P{p:04d}",
                                   "first_name": f"F{p}", "last_name": f"L{p}",
                                   "form": f"{7 + p % 5}X"}
                                  for sid in sites for p in range(PUPILS)])
        deposits, records, confiscations = [], [], []
        for sid in sites:
            pupils = s.scalars(select(Pupil.id).where(Pupil.site_id == sid)).all()
            for i, pid in enumerate(pupils):
                kiosk, slot = kiosks[sid][i % KIOSKS], i // KIOSKS + 1
                when = MORNING + timedelta(seconds=rng.randrange(1800))
                if rng.random() < 0.9:
                    deposits.append({"site_id": sid, "kiosk_id": kiosk, "pupil_id": pid,
                                     "pupil_ref": f"P{i:04d}", "slot": slot, "day": DAY,
                                     "deposited_at": when, "custody_id": f"k.{sid}.{i}"})
                    records.append({"custody_id": f"k.{sid}.{i}", "site_id": sid,
                                    "pupil_id": pid, "pupil_ref": f"P{i:04d}",
                                    "state": "held_in_slot" if i % 60 == 0 else "in_slot",
                                    "kiosk_id": kiosk, "slot": slot, "came_in_at": when,
                                    "came_in_day": DAY})
                for _ in range(rng.choice((0, 0, 0, 1, 2))):  # a term's breaches
                    day = DAY - timedelta(days=rng.randrange(70))
                    confiscations.append({
                        "site_id": sid, "pupil_id": pid, "reason": "phone out in class",
                        "staff_id": staff_id, "day": day, "release_mode": "pupil_end_of_day",
                        "confiscated_at": datetime.combine(day, MORNING.time(), UTC),
                        "state": "released_to_pupil"})
        s.execute(insert(Deposit), deposits)
        s.execute(insert(CustodyRecord), records)
        s.execute(insert(Confiscation), confiscations)


def _serve(services: Any) -> tuple[Any, threading.Thread, int]:
    import uvicorn

    from lockers.broker import free_port
    from server.web.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    return server, thread, port


def _signed_in(base: str, username: str) -> Any:
    import httpx

    client = httpx.Client(base_url=base, timeout=60)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)
    assert token
    client.post("/signin", data={"username": username, "password": PASSWORD,
                                 "csrf": token.group(1)})
    return client


def _median_ms(client: Any, path: str, rounds: int, must_contain: str) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert answer.status_code == 200 and must_contain in answer.text, answer.text[:300]
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--schools", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from lockers.clock import FakeClock
    from server.migrate import upgrade
    from server.services import Services
    from server.store import Store

    work = Path(tempfile.mkdtemp(prefix="lockers-bench-trust-"))
    url = f"sqlite:///{work}/trust.db"
    upgrade(url)
    services = Services(Store(url), FakeClock(MORNING + timedelta(hours=1)))
    t0 = time.perf_counter()
    _fill(services, args.schools)
    print(f"filled {args.schools} schools x {KIOSKS} kiosks x {PUPILS} pupils "
          f"in {time.perf_counter() - t0:.1f} s")
    server, thread, port = _serve(services)
    try:
        base = f"http://127.0.0.1:{port}"
        trust = _signed_in(base, "trustlead")
        page_ms = _median_ms(trust, "/trust", args.rounds, f"School {args.schools - 1:02d}")
        head = _signed_in(base, "head00")
        report_ms = _median_ms(head, "/reports/compliance", args.rounds, "P0299")
        t1 = time.perf_counter()
        rows = services.trust.schools()
        query_ms = (time.perf_counter() - t1) * 1000
        assert len(rows) == args.schools
        print(f"trust overview page (median of {args.rounds}): {page_ms:.0f} ms; "
              f"its figures alone: {query_ms:.0f} ms; one school's compliance report: "
              f"{report_ms:.0f} ms")
    finally:
        server.should_exit = True
        thread.join(10)
        services.store.dispose()
    print(f"trust_overview schools={args.schools} kiosks={args.schools * KIOSKS} "
          f"pupils={args.schools * PUPILS} trust_page_ms={page_ms:.0f} "
          f"compliance_ms={report_ms:.0f}")
    return 0 if page_ms < 1000 else 1


if __name__ == "__main__":
    sys.exit(main())
