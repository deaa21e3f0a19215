"""Benchmark: a large school's MIS export through the roster import, and a year's .ics.

Writes an Arbor-style export of N pupils with two contacts each (UTF-8 with BOM, CRLF), then
times: the preview (read + plan, nothing written), the first import (every pupil, card and
contact new), a re-import with nothing changed, and the calendar import of the shipped
2026-27 term dates. SQLite in a temporary folder.

Run: .venv/bin/python bench/roster_import.py [--pupils 2000]
Last line: roster_import pupils=... preview_s=... first_import_s=... reimport_s=... ics_s=...
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def export(n: int) -> bytes:
    """An Arbor-layout export of ``n`` pupils."""
    from server.roster_layouts import LAYOUTS

    arbor = next(lay for lay in LAYOUTS if lay.name == "Arbor").mapping
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(list(arbor.values()))
    for i in range(n):
        row = {"reference": f"H80120{i:07d}", "first_name": "Zoë", "last_name": f"O'Brien{i}",
               "year_group": f"Year {7 + i % 5}", "form": f"{7 + i % 5}A",
               "leaving_date": "", "card_uid": f"04 {i >> 16 & 255:02X} {i >> 8 & 255:02X} "
               f"{i & 255:02X} 00 00 01"}
        for c in (1, 2):
            row.update({f"contact{c}_name": f"Parent {c} of {i}",
                        f"contact{c}_relationship": "Mother" if c == 1 else "Father",
                        f"contact{c}_email": f"p{c}.{i}@example.org",
                        f"contact{c}_phone": "07700 900000", f"contact{c}_priority": str(c),
                        f"contact{c}_do_not_contact": "No", f"contact{c}_opt_out": ""})
        w.writerow([row.get(k, "") for k in arbor])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pupils", type=int, default=2000)
    args = parser.parse_args()
    from lockers.clock import FakeClock
    from server.migrate import upgrade
    from server.roster import import_roster, preview_roster
    from server.services import Services
    from server.store import Store

    data = export(args.pupils)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        services = Services(Store(url), FakeClock(datetime(2026, 11, 23, 8, tzinfo=UTC)))
        services.admin.create_staff(None, "admin", "Admin", "admin", "bench password")
        services.admin.create_site("admin", "bench", "Bench School")
        t0 = time.perf_counter()
        plan = preview_roster(services, data)
        t1 = time.perf_counter()
        first = import_roster(services, "admin", data, progress=False)
        t2 = time.perf_counter()
        again = import_roster(services, "admin", data, progress=False)
        t3 = time.perf_counter()
        services.calendar.import_ics(
            "admin", (REPO / "launcher" / "demo_data" / "term-dates-2026-27.ics").read_bytes())
        t4 = time.perf_counter()
    assert plan.count("new") == first.created == args.pupils and again.unchanged == args.pupils
    print(f"file {len(data) / 1e6:.2f} MB; problems {len(first.problems)}")
    print(f"roster_import pupils={args.pupils} preview_s={t1 - t0:.2f} "
          f"first_import_s={t2 - t1:.2f} reimport_s={t3 - t2:.2f} ics_s={t4 - t3:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
