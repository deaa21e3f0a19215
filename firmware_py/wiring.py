"""Wiring tables and diagrams generated from the pin maps, so they cannot drift from them.

``python -m firmware_py.wiring hardware/pinmaps hardware/wiring`` rewrites every table and
diagram; a test checks the committed ones are current.
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

from firmware_py.pinmap import Pin, PinMap, load_pinmap

# BCM GPIO -> physical header pin (40-pin header, every Pi since the B+).
HEADER = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 0: 27, 5: 29,
          6: 31, 13: 33, 19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22,
          8: 24, 7: 26, 1: 28, 12: 32, 16: 36, 20: 38, 21: 40}


def where(pin: Pin) -> str:
    """Where a wire lands: a header pin, or an expander's port bit (and its chip pin)."""
    if pin.gpio is not None:
        return f"GPIO{pin.gpio} (header pin {HEADER[pin.gpio]})"
    chip_pin = (21 + pin.bit) if pin.port == "A" else (1 + pin.bit)  # MCP23017 DIP pinout
    return f"{pin.expander} G{pin.port}{pin.bit} (chip pin {chip_pin})"


def table(pinmap: PinMap) -> str:
    """A Markdown wiring table for one pin map."""
    polarity = ", ".join(f"{b}: {'active-low' if low else 'active-high'}"
                         for b, low in pinmap.relay_boards.items())
    lines = [
        f"# Wiring: {pinmap.name}", "",
        f"{pinmap.description}", "",
        "Generated from `hardware/pinmaps/" + pinmap.path.name + "` by `python -m "
        "firmware_py.wiring`: do not edit by hand.", "",
        f"Relay boards: {polarity}. Every relay starts off (the controller drives the off "
        "level before anything else), so a booting or re-powered kiosk opens no door; the "
        "locks are fail-secure, so a power cut opens none either.", "",
    ]
    if pinmap.expanders:
        lines += ["| expander | chip | I2C address | bus |", "|---|---|---|---|"]
        lines += [f"| {e.name} | {e.chip.upper()} | {e.address:#04x} | {e.bus} |"
                  for e in pinmap.expanders.values()]
        lines += ["", "I2C: SDA = GPIO2 (header pin 3), SCL = GPIO3 (header pin 5), 3.3 V "
                  "(pin 1), GND (pin 6); A0-A2 set each chip's address; RESET tied to 3.3 V.",
                  ""]
    lines += ["| slot | relay input | relay board | door reed switch (to GND) | presence |",
              "|---|---|---|---|---|"]
    for s in pinmap.slots:
        lines.append(f"| {s.number} | {where(s.relay)} | {s.board} | {where(s.door)} | "
                     f"{where(s.presence) if s.presence else '-'} |")
    extras = [("green LED (330 Ω to GND)", pinmap.led_ok),
              ("red LED (330 Ω to GND)", pinmap.led_refused), ("buzzer", pinmap.buzzer),
              (f"fire-alarm input (active when {pinmap.fire_alarm_active_when}; through an "
               "opto-isolator from the panel's volt-free contact, never wired directly)",
               pinmap.fire_alarm)]
    lines += ["", "| signal | pin |", "|---|---|"]
    lines += [f"| {name} | {where(pin)} |" for name, pin in extras if pin is not None]
    lines += ["", "Every solenoid has a flyback diode (1N4007) across it, cathode to +12 V.",
              ""]
    return "\n".join(lines)


def svg(pinmap: PinMap) -> str:
    """A plain block diagram: the Pi, expanders, relay boards and slots, with wire labels."""
    row_h, width = 18, 860
    rows = list(pinmap.slots)
    height = 90 + row_h * len(rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<title>Wiring of {escape(pinmap.name)}</title>',
           f'<text x="10" y="20" font-size="15">{escape(pinmap.name)}: '
           f'{len(rows)} slots</text>',
           '<rect x="10" y="35" width="170" height="40" fill="#d8f0d8" stroke="#333"/>',
           '<text x="20" y="60">Raspberry Pi (BCM)</text>']
    for i, name in enumerate(pinmap.expanders):
        out.append(f'<rect x="{200 + i * 80}" y="35" width="72" height="40" fill="#e8e8ff" '
                   f'stroke="#333"/><text x="{206 + i * 80}" y="60">{escape(name)}</text>')
    for i, s in enumerate(rows):
        y = 95 + i * row_h
        out.append(f'<text x="10" y="{y}">slot {s.number}</text>')
        out.append(f'<text x="80" y="{y}">relay ← {escape(where(s.relay))}</text>')
        out.append(f'<text x="400" y="{y}">door → {escape(where(s.door))}</text>')
        if s.presence:
            out.append(f'<text x="700" y="{y}">presence → {escape(s.presence.text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render(pinmap_dir: Path) -> dict[str, str]:
    """File name -> content for every pin map in ``pinmap_dir``."""
    files: dict[str, str] = {}
    for path in sorted(pinmap_dir.glob("*.toml")):
        pinmap = load_pinmap(path)
        files[f"{path.stem}.md"] = table(pinmap)
        files[f"{path.stem}.svg"] = svg(pinmap)
    return files


def main(argv: list[str]) -> int:
    """Write every table and diagram."""
    src, dst = Path(argv[0]), Path(argv[1])
    dst.mkdir(parents=True, exist_ok=True)
    for name, text in render(src).items():
        (dst / name).write_text(text, encoding="utf-8")
        print(f"wrote {dst / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["hardware/pinmaps", "hardware/wiring"]))
