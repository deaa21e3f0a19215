"""Benchmark: from the controller's decision to the kiosk screen's frame showing it, and the
screen process's peak memory (real Kivy under Xvfb, real controller, real broker).

Run: .venv/bin/python bench/kiosk_screen.py [--taps 40]
Last line: kiosk_screen decision_to_frame_p95_ms=... peak_rss_mb=...
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--taps", type=int, default=40)
    args = parser.parse_args()
    from tests.controller_kit import FakeServer
    from tests.fixtures.broker import DEFAULT_KIOSKS, Broker
    from tests.test_kiosk_ui import run_driver

    work = Path(tempfile.mkdtemp(prefix="lockers-bench-screen-"))
    broker = Broker(work / "broker", list(DEFAULT_KIOSKS))
    broker.start()
    try:
        steps = run_driver(work, broker, FakeServer(broker), work / "shots",
                           latency_taps=args.taps)
    finally:
        broker.close()
    figures = next(s for s in steps if "latency_ms" in s)
    lat = sorted(figures["latency_ms"])
    p50, p95 = lat[len(lat) // 2], lat[min(len(lat) - 1, round(0.95 * len(lat)) - 1)]
    print(json.dumps({"taps": len(lat), "p50_ms": round(p50, 1), "max_ms": round(lat[-1], 1)}))
    print(f"kiosk_screen decision_to_frame_p95_ms={p95:.1f} "
          f"peak_rss_mb={figures['peak_rss_mb']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
