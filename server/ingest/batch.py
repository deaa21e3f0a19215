"""What applying one batch of messages did (shared by the ingest modules)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BatchResult:
    """What a batch did: sequences to acknowledge per kiosk, counts, sites whose policy moved."""

    # (site, kiosk, epoch) -> sequences to acknowledge
    acks: dict[tuple[str, str, str | None], list[int]] = field(
        default_factory=lambda: defaultdict(list))
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    held_back: int = 0  # events waiting for an earlier one of their kiosk (not acknowledged)
    held: set[tuple[int, str, int]] = field(default_factory=set)  # their (kiosk, epoch, seq)
    implausible_times: int = 0  # events kept but flagged for a doubtful clock
    policy_sites: set[int] = field(default_factory=set)
    # kiosk id -> (store epoch, new high-water mark)
    last_seqs: dict[int, tuple[str, int]] = field(default_factory=dict)
    state_lost: set[int] = field(default_factory=set)  # kiosks that restarted their sequence
    # The events applied now (not duplicates, not parked), each kiosk's in its order, with
    # events parked earlier that this batch unblocked: what the live dashboard hears.
    applied_events: list[tuple[Any, Any]] = field(default_factory=list)
