"""The fault and attack figures (issue #14): payloads tried, attacks refused, faults
survived, events lost. Drives the real broker (production config) and the real server, the
same way tests/test_hardening_*.py do, prints each figure and writes
bench/results/hardening.md. Ends with one key=value line (bench/run_all.py reads it).

    .venv/bin/python bench/hardening.py
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run_all import machine  # noqa: E402
from lockers.wire import topics as t  # noqa: E402
from lockers.wire.codec import MAX_PAYLOAD_BYTES, decode  # noqa: E402
from lockers.wire.errors import WireError  # noqa: E402
from tests.fixtures.broker import Broker  # noqa: E402
from tests.hardening_payloads import mutations, oracle  # noqa: E402
from tests.server_kit import (  # noqa: E402
    MORNING,
    FakeKiosk,
    deposit,
    make_clock,
    running_server,
    wait_until,
)

FIG: dict[str, Any] = {}
HONEST_EVENTS = 300


def schema_agreement() -> None:
    """Every channel's mutated payloads: the decoder against the published JSON Schema."""
    tried = agree = accepted = 0
    for ch in t.CHANNELS:
        schema = oracle(ch)
        for payload in mutations(ch, 2500, seed=2026):
            try:
                decode(ch, payload)
                ok = True
            except WireError:
                ok = False
            tried += 1
            accepted += ok
            agree += ok == schema.is_valid(json.loads(payload))
    FIG["fuzz_payloads_tried"] = tried
    FIG["fuzz_schema_disagreements"] = tried - agree
    FIG["fuzz_refused"] = tried - accepted
    print(f"fuzz: {tried} payloads over {len(t.CHANNELS)} topics, {tried - accepted} refused, "
          f"{tried - agree} disagreements with the JSON Schema")


def live_attacks(work: Path) -> None:
    """Hostile payloads, client-id takeovers and faults while an honest kiosk keeps sending."""
    broker = Broker(work / "broker", [("north", "k1"), ("north", "k2")])
    broker.start()
    try:
        with running_server(work, broker.host, broker.port, make_clock(),
                            username=broker.server_username,
                            password=broker.server_password) as rt:
            rt.services.admin.add_kiosk("admin", "k2", slots=4)
            acc = {k: broker.kiosk("north", k) for k in ("k1", "k2")}
            bad = FakeKiosk(broker.host, broker.port, "north", "k1", acc["k1"].username,
                            acc["k1"].password)
            honest = FakeKiosk(broker.host, broker.port, "north", "k2", acc["k2"].username,
                               acc["k2"].password)
            hostile = [b"[" * 1001 + b"]" * 1001, b'{"a":' * 5000 + b"1" + b"}" * 5000,
                       b'{"v":1,"x":"' + b"y" * (MAX_PAYLOAD_BYTES - 50) + b'"}']
            good = deposit(bad, 1, MORNING, "A001", 3).model_dump_json(exclude_none=True)
            hostile += [good.replace('"seq":1', '"seq":"1"').encode(),
                        good.replace('"slot":3', '"slot":"3"').encode(),
                        good.replace('"slot":3', '"slot":500').encode()]
            fuzzed = mutations(t.EVENTS, 300, seed=99)
            schema = oracle(t.EVENTS)
            fuzz_ok = {json.loads(p)["seq"] for p in fuzzed if schema.is_valid(json.loads(p))}
            fuzz_refused = sum(not schema.is_valid(json.loads(p)) for p in fuzzed)
            drops = [0]
            was = rt.link.client.on_disconnect

            def counted_drop(*args: Any) -> None:
                drops[0] += 1
                was(*args)

            rt.link.client.on_disconnect = counted_drop
            takeover_ids = [rt.config.mqtt.client_id, f"{rt.config.mqtt.client_id}-rx",
                            "server", "server-rx"]

            def attack() -> None:
                for p in hostile:
                    bad.publish_raw(t.EVENTS, p)
                for p in fuzzed:
                    bad.publish_raw(t.EVENTS, p)
                for cid in takeover_ids * 8:
                    broker.client(acc["k1"].username, acc["k1"].password, client_id=cid)

            attacker = threading.Thread(target=attack)
            attacker.start()
            for seq in range(1, HONEST_EVENTS + 1):
                honest.publish(deposit(honest, seq, MORNING, "A002", seq % 4 + 1))
            attacker.join()
            # Faults: a crashing listener (ingest restarted), a killed receiver process.
            crashed = threading.Event()

            def crash_once(_batch: object) -> None:
                if not crashed.is_set():
                    crashed.set()
                    raise SystemExit("fault injected")

            rt.ingest.listeners.append(crash_once)
            honest.publish(deposit(honest, HONEST_EVENTS + 1, MORNING, "A002", 1))
            wait_until(lambda: rt.ingest.stats.restarts == 1, 10, "ingest restarted")
            os.kill(rt.link.receiver.pid, 9)
            wait_until(lambda: rt.link.receiver_restarts == 1, 10, "receiver restarted")
            wait_until(rt.link.connected.is_set, 15, "receiver back")
            honest.publish(deposit(honest, HONEST_EVENTS + 2, MORNING, "A002", 2))
            # A clock 6.5 hours fast: kept, and flagged for the office.
            honest.publish(deposit(honest, HONEST_EVENTS + 3,
                                   MORNING + timedelta(hours=6, minutes=30), "A002", 3))
            total = HONEST_EVENTS + 3
            honest.wait_for(lambda k: set(range(1, total + 1)) <= k.acked, 60,
                            "every honest event acked")
            wait_until(lambda: len(bad.acked & fuzz_ok) == len(fuzz_ok), 30, "fuzz acked")
            from sqlalchemy import func, select

            from server.models import Event, Kiosk

            with rt.store.read() as s:
                stored = s.scalar(select(func.count()).select_from(Event).join(
                    Kiosk, Kiosk.id == Event.kiosk_id).where(Kiosk.code == "k2"))
            with rt.store.read() as s:
                k1_stored = s.scalar(select(func.count()).select_from(Event).join(
                    Kiosk, Kiosk.id == Event.kiosk_id).where(Kiosk.code == "k1"))
            refused_hostile = rt.ingest.stats.bad_payloads - fuzz_refused
            FIG["hostile_payloads_refused"] = f"{refused_hostile}/{len(hostile)}"
            FIG["attacker_events_stored_beyond_schema"] = (k1_stored or 0) - len(fuzz_ok)
            FIG["implausible_times_flagged"] = rt.ingest.stats.implausible_times
            FIG["fuzzed_events_refused_by_schema_and_server"] = fuzz_refused
            FIG["bad_payloads_counted"] = rt.ingest.stats.bad_payloads
            FIG["takeover_attempts"] = len(takeover_ids) * 8
            FIG["server_disconnects"] = drops[0] + rt.link.receiver_restarts - 1
            FIG["faults_survived"] = rt.ingest.stats.restarts + rt.link.receiver_restarts
            FIG["honest_events_sent"] = total
            FIG["honest_events_lost"] = total - (stored or 0)
            FIG["healthz_healthy_after"] = rt.ingest.health()["healthy"]
            bad.close()
            honest.close()
    finally:
        broker.close()
    print(f"live: {FIG['hostile_payloads_refused']} hostile payloads refused, "
          f"{fuzz_refused}/{len(fuzzed)} fuzzed events refused as the schema says "
          f"({FIG['bad_payloads_counted']} counted bad), "
          f"{FIG['takeover_attempts']} client-id takeovers with "
          f"{FIG['server_disconnects']} server disconnects, {FIG['faults_survived']} faults "
          f"survived, {FIG['honest_events_lost']}/{total} honest events lost")


def credentials(work: Path) -> None:
    """Guessing on both credential paths (in parallel), and how long an answer takes for an
    unknown user against a known one with a wrong password."""
    from fastapi.testclient import TestClient

    from server.migrate import upgrade
    from server.services import Services
    from server.store import Store
    from server.web.app import create_app
    from tests.server_kit import seed

    url = f"sqlite:///{work}/auth.db"
    upgrade(url)
    store = Store(url)
    services = Services(store, make_clock())
    seed(services)
    web = TestClient(create_app(services, session_key="k" * 64), follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/signin").text).group(1)  # type: ignore[union-attr]
    form = [web.post("/signin", data={"username": "head", "password": f"g{i}", "csrf": csrf}
                     ).status_code for i in range(50)]

    with ThreadPoolExecutor(8) as pool:
        api = list(pool.map(lambda i: web.get("/api/pupils/A001/cards",
                                              auth=("admin", f"g{i}")).status_code, range(200)))
    right_after = web.get("/api/pupils/A001/cards", auth=("admin", "correct horse")).status_code

    def timed(user: str) -> float:
        t0 = time.perf_counter()
        services.admin.authenticate(user, "not the password")
        return (time.perf_counter() - t0) * 1000

    pairs = [(timed(f"nobody{i}"), timed("office1")) for i in range(25)]  # interleaved
    unknown = statistics.median(u for u, _ in pairs)
    known = statistics.median(k for _, k in pairs)
    store.dispose()
    FIG["api_guesses"] = len(api)
    FIG["api_guesses_checked"] = api.count(401)
    FIG["api_right_password_while_locked"] = right_after
    FIG["form_guesses"] = len(form)
    FIG["form_guesses_checked"] = form.count(200)
    FIG["unknown_user_ms"] = round(unknown, 1)
    FIG["known_user_wrong_password_ms"] = round(known, 1)
    print(f"auth: API {len(api)} parallel guesses, {api.count(401)} checked, the rest 429 "
          f"(right password while locked: {right_after}); form {len(form)} guesses, "
          f"{form.count(200)} checked; answer time unknown user {unknown:.0f} ms vs known "
          f"user {known:.0f} ms")


def pins() -> None:
    """A kiosk PIN check now (scrypt) against before (PBKDF2 100k), and brute-force cost."""
    from locker_controller.staff import pin_matches
    from server.passwords import hash_pin

    stored = hash_pin("482193")
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        pin_matches("482193", stored)
        runs.append(time.perf_counter() - t0)
    scrypt_s = statistics.median(runs)
    t0 = time.perf_counter()
    hashlib.pbkdf2_hmac("sha256", b"4821", os.urandom(16), 100_000)
    old_s = time.perf_counter() - t0
    FIG["pin_check_s"] = round(scrypt_s, 3)
    FIG["pin_brute_force_cpu_hours"] = round(10**6 * scrypt_s / 3600, 1)
    FIG["old_pin_brute_force_cpu_minutes"] = round(10**4 * old_s / 60, 1)
    print(f"pins: one check {scrypt_s * 1000:.0f} ms (scrypt, 32 MiB); every 6-digit PIN "
          f"{FIG['pin_brute_force_cpu_hours']} CPU-hours, against "
          f"{FIG['old_pin_brute_force_cpu_minutes']} CPU-minutes for every 4-digit PIN before")


def audit_tampering(work: Path) -> None:
    """The three ways of hiding audit rows, each against the anchor."""
    from sqlalchemy import delete, select, update

    from lockers.clock import SystemClock
    from server import audit
    from server.audit_anchor import AuditAnchor
    from server.migrate import upgrade
    from server.models import AuditEntry, AuditHead
    from server.services import Services
    from server.store import Store

    detected = 0
    cases = ("delete newest rows and head", "delete every row and head", "rewrite from a row")
    for n, case in enumerate(cases):
        url = f"sqlite:///{work}/audit{n}.db"
        upgrade(url)
        store = Store(url)
        store.anchor = AuditAnchor(work / f"a{n}.key", work / f"a{n}.jsonl", min_interval_s=0)
        services = Services(store, SystemClock())
        services.admin.create_staff(None, "admin", "Admin", "admin", "a long secret")
        services.admin.create_site("admin", "main", "School")
        for k in ("k1", "k2", "k3"):
            services.admin.add_kiosk("admin", k, slots=1)
        with store.write() as s:
            if case.startswith("delete newest"):
                last = s.scalar(select(AuditHead.last_id))
                s.execute(delete(AuditEntry).where(AuditEntry.id > last - 2))
                s.execute(delete(AuditHead))
            elif case.startswith("delete every"):
                s.execute(delete(AuditEntry))
                s.execute(delete(AuditHead))
            else:
                rows = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
                prev = rows[1].row_hash
                rows[2].reason = "rewritten"
                for row in rows[2:]:
                    row.prev_hash = prev
                    row.row_hash = prev = audit.row_hash(prev, {c: getattr(row, c)
                                                                for c in audit.HASHED})
                s.execute(update(AuditHead).values(last_hash=prev))
        with store.read() as s:
            detected += bool(audit.verify(s) + store.anchor.verify(s))
        store.anchor.stop()
        store.dispose()
    FIG["audit_tampering_detected"] = f"{detected}/{len(cases)}"
    print(f"audit: {detected}/{len(cases)} ways of hiding rows detected ({', '.join(cases)})")


def write_results() -> None:
    out = ROOT / "bench" / "results" / "hardening.md"
    lines = ["# Hardening: faults and attacks (bench/hardening.py)", "",
             f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on: {machine()}", "",
             "| figure | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in FIG.items()]
    out.write_text("\n".join(lines) + "\n")


def main() -> int:
    logging.disable(logging.WARNING)  # the refusals are counted here, not printed
    with tempfile.TemporaryDirectory(prefix="lockers-bench-hardening-") as tmp:
        work = Path(tmp)
        schema_agreement()
        live_attacks(work / "live")
        credentials(work)
        pins()
        audit_tampering(work)
    write_results()
    print(" ".join(f"{k}={v}" for k, v in FIG.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
