"""Benchmark: the live dashboard at a large trust's size, 6,000 slots (20 kiosks x 300), in
headless Chromium: first render and live update p95 (a slot change on the broker -> visible
in the page). The same measurement as bench/dashboard.py, at this size.

Run: .venv/bin/python bench/dashboard_6000.py [--updates 60]
Last line: dashboard_6000 slots=6000 first_render_ms=... live_update_p95_ms=...
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dashboard import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["--kiosks", "20", "--slots", "300", *sys.argv[1:]], label="dashboard_6000"))
