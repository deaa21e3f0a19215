"""A kiosk with no card reader, for the simulator: taps are handed to the controller the way
the reader service would, without a PC/SC stack per simulated kiosk."""

from __future__ import annotations

from firmware_py.interfaces import CardReaders, EventQueue


class NoReaders(CardReaders):
    """Reports nothing; always healthy."""

    def start(self, events: EventQueue) -> None:
        """Nothing to watch."""

    def stop(self) -> None:
        """Nothing to stop."""

    def healthy(self) -> dict[str, bool]:
        """No readers, so none faulty."""
        return {}
