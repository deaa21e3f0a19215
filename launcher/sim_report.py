"""The report of a simulated day (``lockers simulate``): its figures, its invariants, and the
same in words or JSON."""

from __future__ import annotations

import json
import resource
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from launcher.sim_monitor import Monitor
    from launcher.simulate import Simulation


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


def _custody_mismatches(sim: Simulation, views: dict[str, Any]) -> list[str]:
    """At close, the server's custody picture against every kiosk's slots, record by record
    (each difference in words)."""
    from lockers.wire import messages as m

    out: list[str] = []
    for code, view in views.items():
        slots = [m.SlotView(slot=s.number, state=s.state, pupil_ref=s.pupil_ref,
                            door_open=s.door_open, custody_id=s.custody_id) for s in view.slots]
        out += [f"{code}: {d}" for d in sim.services.custody.compare_with_kiosk(
            "demo", code, slots)]
    return out


def morning_picture(sim: Simulation) -> dict[str, Any]:
    """After the morning (every door shut, every outbox drained): how many pupils' phones are
    in a slot, and whether the server's custody picture matches every kiosk then, when the
    slots are fullest."""
    views = {code: k.controller.view() for code, k in sim.controllers.items()}
    occupied = {code: sum(1 for s in v.slots if s.pupil_ref) for code, v in views.items()}
    pupils_in = {s.pupil_ref for v in views.values() for s in v.slots if s.pupil_ref}
    mismatches = _custody_mismatches(sim, views)
    to_hand_in = {p.reference for p in sim.pupils} - sim.exempt
    return {"pupils_to_hand_in": len(to_hand_in),
            "phones_in_slots": len(pupils_in & to_hand_in),
            "occupied_slots_by_kiosk": occupied,
            "slots_compared": sum(len(v.slots) for v in views.values()),
            "custody_mismatches": len(mismatches),
            "kiosks_matching": sum(1 for code in views
                                   if not any(d.startswith(f"{code}: ") for d in mismatches)),
            "notes": mismatches[:10]}


def day_report(sim: Simulation, server: subprocess.Popen[bytes], monitor: Monitor
               ) -> dict[str, Any]:
    """The day's figures and invariants, from the kiosks, the database and the monitor."""
    from sqlalchemy import create_engine, text

    time.sleep(0.5)
    views = {code: k.controller.view() for code, k in sim.controllers.items()}
    sent = {code: v.events_stored for code, v in views.items()}
    engine = create_engine(f"sqlite:///{sim.dir / 'lockers.db'}")
    with engine.connect() as db:
        rows = db.execute(text(
            "SELECT k.code, count(DISTINCT e.epoch || '.' || e.seq) FROM events e "
            "JOIN kiosks k ON k.id = e.kiosk_id GROUP BY k.code")).all()
        deposits_in_db = db.execute(text("SELECT count(*) FROM deposits")).scalar_one()
        deposit_rows = dict(db.execute(text(
            "SELECT custody_id, count(*) FROM deposits GROUP BY custody_id")).all())
    engine.dispose()
    committed = {code: distinct for code, distinct in rows}
    with monitor.lock:
        made = set(monitor.deposit_records)
    # One row in the deposits table for each deposit a kiosk made, no more and no fewer.
    deposit_rows_ok = set(deposit_rows) == made and all(n == 1 for n in deposit_rows.values())
    mismatches = _custody_mismatches(sim, views)
    lost = sum(max(sent[k] - committed.get(k, 0), 0) for k in sent)
    snapshot_states = Counter()
    exempt_opened = [ref for ref in sim.exempt if sim.opened_for.get(ref)]
    held_slots: dict[str, str] = {}
    for view in views.values():
        for slot in view.slots:
            snapshot_states[slot.state.value] += 1
            if slot.pupil_ref in sim.held:
                held_slots[slot.pupil_ref] = slot.state.value
    # Every parent-only held phone is still in its slot, held, at close.
    held_still_held = all(held_slots.get(ref) == "held" for ref in sim.held)
    # Phones handed in and phones collected, counted from what the kiosks recorded (a tap
    # that opens a door is not yet a hand-in: the door must close on the phone).
    with monitor.lock:
        deposits, releases = len(monitor.deposits), len(monitor.collections)
    report = {
        "pupils": sim.o.pupils, "kiosks": sim.o.kiosks,
        "slots_per_kiosk": sim.o.slots, "speed": sim.o.speed, "seed": sim.o.seed,
        "taps": sum(sim.outcomes.values()),
        "deposits": deposits, "releases": releases,
        "refused_by_reason": {k: v for k, v in sorted(sim.outcomes.items())
                              if not k.endswith("_opened")},
        "held": len(sim.held), "exempt": sim.outcomes.get("exempt", 0),
        "events_sent": sum(sent.values()), "events_committed": sum(committed.values()),
        "events_lost": lost, "deposits_recorded": deposits_in_db,
        "deposit_rows_match_kiosks": deposit_rows_ok,
        "custody_mismatches": len(mismatches),
        "uncollected_at_close": snapshot_states.get("occupied", 0)
        + snapshot_states.get("held", 0),
        "tap_to_open_ms": {"p50": _pct(sim.tap_ms, 50), "p95": _pct(sim.tap_ms, 95),
                           "p99": _pct(sim.tap_ms, 99)},
        "event_to_commit_ms": {"p50": _pct(monitor.commit_ms, 50),
                               "p95": _pct(monitor.commit_ms, 95)},
        "max_queue_wait_s": round(max(sim.queue_wait_s, default=0.0), 1),
        "peak_rss_mb": {"simulator_and_kiosks": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "server": _rss_mb(server.pid),
            "broker": _rss_mb(sim.broker.pid) if sim.broker.pid else 0.0},
        "invariants": {"held_phones_still_held": held_still_held,
                       "exempt_pupils_never_opened_a_slot": not exempt_opened,
                       "slot_states_at_close": dict(snapshot_states)},
        "kiosks_matching_at_close": sum(
            1 for code in views if not any(d.startswith(f"{code}: ") for d in mismatches)),
        "after_morning": sim.morning,
        "lock_boards": sim.o.boardmap.name if sim.o.boardmap else None,
        "board_faults_raised": monitor.board_faults,
        "notes": sim.notes + mismatches[:10] + sim.morning.get("notes", [])
        + ([f"after the morning: {sim.morning['unsettled']}"] if sim.morning.get("unsettled")
           else []),
    }
    return report


def human(report: dict[str, Any]) -> str:
    """The report in words."""
    r = report
    am = r["after_morning"]
    locks = (f"on simulated RS-485 lock boards, {r['lock_boards']}" if r["lock_boards"]
             else "on mock GPIO pins")
    lines = [
        f"Simulated day: {r['pupils']} pupils, {r['kiosks']} kiosks x {r['slots_per_kiosk']} "
        f"slots ({locks}), "
        f"x{r['speed']} speed, seed {r['seed']}"
        + (f", {r['wall_s']} s wall" if "wall_s" in r else ""),
        f"after the morning: {am.get('phones_in_slots')} of {am.get('pupils_to_hand_in')} "
        f"pupils' phones in a slot (occupied by kiosk {am.get('occupied_slots_by_kiosk')}); "
        f"server's custody picture matches {am.get('kiosks_matching')} of {r['kiosks']} "
        f"kiosks over {am.get('slots_compared')} slots ({am.get('custody_mismatches')} "
        "records differ)",
        f"taps {r['taps']}: deposits {r['deposits']}, releases {r['releases']}, "
        f"held {r['held']}, exempt {r['exempt']}",
        f"refused: {r['refused_by_reason'] or 'none'}",
        f"events sent {r['events_sent']}, committed {r['events_committed']}, "
        f"lost {r['events_lost']}; deposit rows match the kiosks' deposits: "
        f"{'yes' if r['deposit_rows_match_kiosks'] else 'NO'}; custody records that differ "
        f"between server and kiosks at close: {r['custody_mismatches']} (matches "
        f"{r['kiosks_matching_at_close']} of {r['kiosks']} kiosks)",
        f"tap to open (decision) ms p50/p95/p99: {r['tap_to_open_ms']['p50']} / "
        f"{r['tap_to_open_ms']['p95']} / {r['tap_to_open_ms']['p99']}",
        f"event to commit (publish to server ack) p95: {r['event_to_commit_ms']['p95']} ms",
        f"longest queue wait at a kiosk: {r['max_queue_wait_s']} s (simulated)",
        f"peak memory MB: {r['peak_rss_mb']}",
        f"uncollected at close: {r['uncollected_at_close']}"
        + (f"; lock boards reported silent: {r['board_faults_raised']}" if r["lock_boards"]
           else ""),
    ]
    if not ok(r):
        lines.append(f"FAILURE: {r['events_lost']} events LOST, {r['custody_mismatches']} "
                     "custody records differ, deposit rows match: "
                     f"{r['deposit_rows_match_kiosks']}: this must never happen")
    else:
        lines.append("Nothing was lost, every deposit is recorded once, and the server's "
                     "custody picture matches every kiosk record by record.")
    inv = r["invariants"]
    if not inv["held_phones_still_held"]:
        lines.append("FAILURE: a held phone was not held at close")
    if not inv["exempt_pupils_never_opened_a_slot"]:
        lines.append("FAILURE: an exempt pupil opened a slot")
    lines += r["notes"]
    return "\n".join(lines)


def ok(report: dict[str, Any]) -> bool:
    """Whether the day kept the promises that must never break."""
    return (report["events_lost"] == 0 and report["custody_mismatches"] == 0
            and report["deposit_rows_match_kiosks"])


def to_json(report: dict[str, Any]) -> str:
    """The report as JSON."""
    return json.dumps(report, indent=2, sort_keys=True)
