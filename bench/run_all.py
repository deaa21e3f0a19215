"""``make bench``: run every benchmark and write bench/results/latest.md.

Each benchmark prints its figures and ends with one line of key=value pairs; this runs them
one after another (never in parallel: they would measure each other) and tabulates those
last lines with the machine they ran on.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ORDER = ["tap_to_open.py", "modbus_tap_to_open.py", "ingest.py", "ingest_batch_cost.py",
         "kiosk_screen.py", "dashboard.py",
         "dashboard_6000.py", "school_morning.py", "secondary_1500.py", "kiosk300.py", "rush.py",
         "hardening.py", "roster_import.py", "notify.py", "trust_overview.py",
         "trust_processes.py", "trust_scale.py", "trust_live.py"]


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.system()} {platform.release()} {platform.machine()}, {cpu}, "
            f"{os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}")


def main() -> int:
    rows, failed = [], 0
    for name in ORDER:
        script = BENCH / name
        if not script.exists():
            rows.append((name, "not built yet", "-"))
            continue
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        wall = time.monotonic() - t0
        print(done.stdout[-3000:], done.stderr[-1500:] if done.returncode else "", flush=True)
        lines = [ln for ln in done.stdout.strip().splitlines() if "=" in ln]
        result = lines[-1] if lines else "(no figures)"
        if done.returncode != 0:
            failed += 1
            result = f"FAILED (exit {done.returncode}): {result}"
        rows.append((name, result, f"{wall:.0f} s"))
    out = BENCH / "results" / "latest.md"
    out.parent.mkdir(exist_ok=True)
    table = ["# Benchmarks", "", f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on: {machine()}",
             "", "| benchmark | figures (last line) | wall |", "|---|---|---|"]
    table += [f"| {n} | `{r}` | {w} |" for n, r, w in rows]
    out.write_text("\n".join(table) + "\n")
    print(out.read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
