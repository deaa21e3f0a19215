"""What applying one batch of messages did (shared by the ingest modules)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class BatchResult:
    """What a batch did: sequences to acknowledge per kiosk, counts, sites whose policy moved."""

    acks: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    implausible_times: int = 0  # events kept but flagged for a doubtful clock
    policy_sites: set[int] = field(default_factory=set)
    last_seqs: dict[int, int] = field(default_factory=dict)  # kiosk id -> new high-water mark
