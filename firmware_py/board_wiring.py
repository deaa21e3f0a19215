"""Wiring sheets generated from the board maps, so they cannot drift from them: for each lock
board its address (and DIP switch positions), where it sits on the bus and its slots.

``python -m firmware_py.board_wiring hardware/boardmaps hardware/wiring`` rewrites them; a
test checks the committed ones are current.
"""

from __future__ import annotations

import sys
from pathlib import Path

from firmware_py.boardmap import BoardMap, load_boardmap


def dip_switches(address: int) -> str:
    """Switch positions for ``address`` on the common 8-way address DIP (1 = ON, switch 1
    the least significant bit), written switch 1 first."""
    return " ".join(f"{i + 1}:{'ON' if address >> i & 1 else 'off'}" for i in range(8))


def _runs(numbers: list[int], channels: list[int]) -> str:
    parts, start = [], 0
    for i in range(1, len(numbers) + 1):
        if i == len(numbers) or numbers[i] != numbers[i - 1] + 1 or \
                channels[i] != channels[i - 1] + 1:
            a, b = numbers[start], numbers[i - 1]
            ca, cb = channels[start], channels[i - 1]
            parts.append(f"{a}-{b} on ch {ca}-{cb}" if a != b else f"{a} on ch {ca}")
            start = i
    return "; ".join(parts)


def sheet(boardmap: BoardMap) -> str:
    """A Markdown wiring sheet for one board map."""
    bus = boardmap.bus
    lines = [
        f"# Wiring: {boardmap.name}", "", boardmap.description, "",
        f"Generated from `hardware/boardmaps/{boardmap.path.name}` by `python -m "
        "firmware_py.board_wiring`: do not edit by hand.", "",
        f"Bus: RS-485, Modbus RTU, {bus.baudrate} baud, 8 data bits, parity {bus.parity}, "
        f"{bus.stopbits} stop bit(s); set every board to the same. Daisy-chain the boards in "
        "the order below (A to A, B to B, signal ground along), 120 ohm termination at the "
        "adapter and at the last board only.", "",
        "| bus order | board | address | address DIP (switch:state) | channels | slots |",
        "|---|---|---|---|---|---|",
    ]
    boards = sorted(boardmap.boards.values(), key=lambda b: b.address)
    for order, board in enumerate(boards, 1):
        wired = [s for s in boardmap.slots if s.board == board.name]
        lines.append(f"| {order} | {board.name} | {board.address} | "
                     f"{dip_switches(board.address)} | {board.channels} | "
                     f"{_runs([s.number for s in wired], [s.channel for s in wired])} |")
    spare = sum(b.channels for b in boards) - len(boardmap.slots)
    lines += ["", f"{len(boardmap.slots)} slots on {len(boards)} boards; {spare} spare "
              "channels. Each slot's lock goes to its channel's output, its reed switch to the "
              "channel's feedback input.", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Write ``<out>/<map>.md`` for every board map in ``<maps>``."""
    maps, out = Path(argv[0]), Path(argv[1])
    for path in sorted(maps.glob("*.toml")):
        (out / f"{path.stem}.md").write_text(sheet(load_boardmap(path)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["hardware/boardmaps", "hardware/wiring"]))
