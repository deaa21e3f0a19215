"""Named school sizes for ``lockers simulate --preset`` and the benchmarks: each sets the
:class:`~launcher.simulate.SimOptions` it names (flags given as well still win)."""

from __future__ import annotations

from pathlib import Path

BOARDMAPS = Path(__file__).resolve().parents[1] / "hardware" / "boardmaps"

PRESETS: dict[str, dict[str, object]] = {
    # A 1,500-pupil secondary: five entrances, a 300-slot kiosk at each on seven 48-channel
    # RS-485 lock boards (hardware/boardmaps/kiosk300.toml), 16 doors open at once per kiosk,
    # arrivals over 20 minutes, a pupil at the reader for 1.5 s (the rush model's reader and
    # screen), the release window 30 minutes after the last arrival so a morning that runs
    # late on a busy machine still ends before it. x20 keeps a day to a few minutes.
    "secondary-1500": {"pupils": 1500, "kiosks": 5, "doors_at_once": 16,
                       "boardmap": BOARDMAPS / "kiosk300.toml", "arrival_minutes": 20.0,
                       "at_reader_s": 1.5, "window_after_min": 30.0, "speed": 20.0},
}
