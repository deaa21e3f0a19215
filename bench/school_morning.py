"""Benchmark: a full simulated morning rush through the real broker, server and kiosks.

1,200 pupils, 4 kiosks of 60 slots, arrivals over 20 minutes of simulated time (a rush
curve). Run: .venv/bin/python bench/school_morning.py [--speed 20]
Last line: school_morning taps=... events_lost=... custody_mismatches=...
tap_to_open_p99_ms=... event_to_commit_p95_ms=... max_queue_wait_s=...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from launcher.simulate import SimOptions, Simulation, human


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pupils", type=int, default=1200)
    parser.add_argument("--kiosks", type=int, default=4)
    parser.add_argument("--slots", type=int, default=60)
    parser.add_argument("--speed", type=float, default=20.0)
    args = parser.parse_args()
    report = Simulation(SimOptions(pupils=args.pupils, kiosks=args.kiosks, slots=args.slots,
                                   arrival_minutes=20, speed=args.speed, collect=False,
                                   progress=False)).run()
    print(human(report))
    print(f"school_morning taps={report['taps']} deposits={report['deposits']} "
          f"events_lost={report['events_lost']} "
          f"custody_mismatches={report['custody_mismatches']} "
          f"tap_to_open_p99_ms={report['tap_to_open_ms']['p99']} "
          f"event_to_commit_p95_ms={report['event_to_commit_ms']['p95']} "
          f"max_queue_wait_s={report['max_queue_wait_s']} "
          f"peak_rss_server_mb={report['peak_rss_mb']['server']}")
    return 0 if report["events_lost"] == 0 and report["custody_mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
