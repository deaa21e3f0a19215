"""The morning rush and home time as a discrete-event simulation (SimPy).

Pupils arrive at the school gates on a curve, walk to a kiosk, queue at its readers, tap,
wait for the kiosk to decide and release a lock, walk to the door, put the phone in (or take
it out) and close the door. Human times are spreads (uniform around a mean, seeded, so a run
is repeatable); the kiosk's own times are parameters whose defaults are the benchmarks'
figures (bench/tap_to_open.py on the project's 2-core machine, 2026-11-22):

- ``reader_s`` 0.40 s: from a card in the field to the reader service seeing it (pcscd's
  presence poll; card_to_relay p50 402 ms less the controller's 2 ms);
- ``software_s`` 0.002 s: the controller's decision plus the relay write (reader_to_relay p99
  1.98 ms on GPIO; the Modbus path adds about a millisecond, bench/modbus_tap_to_open.py).

The part of the queue wait the software causes is measured, not guessed: the same run (same
seed, same pupils) with ``software_s`` set to zero, compared.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import simpy

Session = Literal["morning", "home"]


@dataclass(frozen=True)
class Spread:
    """A time in seconds: uniform in ``mean ± spread`` (``spread`` 0: always ``mean``)."""

    mean: float
    spread: float = 0.0

    def draw(self, rng: random.Random) -> float:
        """One sample (never negative)."""
        if self.spread == 0:
            return self.mean
        return max(0.0, rng.uniform(self.mean - self.spread, self.mean + self.spread))


@dataclass(frozen=True)
class RushParams:
    """One school session at the kiosks."""

    pupils: int = 1500
    kiosks: int = 5
    readers_per_kiosk: int = 1
    entrances: int = 1  # kiosks are shared out between them
    window_s: float = 20 * 60  # arrivals spread over this (morning); release spread (home)
    session: Session = "morning"
    walk_to_kiosk: Spread = Spread(20, 10)  # from the gate (or the classroom door)
    tap: Spread = Spread(1.5, 0.5)  # card out, onto the reader
    reader_s: float = 0.40
    software_s: float = 0.002
    max_coils: int = 4
    pulse_s: float = 0.5
    walk_to_door: Spread = Spread(4, 2)  # along a 300-slot bank
    handle_phone: Spread = Spread(5, 2)  # phone in (or out), maybe a watch too
    close_door: Spread = Spread(1, 0.5)
    seed: int = 1
    # Arrival times at the gate (s from the start); None: drawn from the session's curve.
    arrivals: Sequence[float] | None = None


@dataclass
class RushResult:
    """What one run found."""

    params: RushParams
    waits: list[float] = field(default_factory=list)  # queue wait at a reader, per pupil
    most_doors_open: int = 0
    longest_queue: int = 0
    finished_s: float = 0.0

    def wait_pct(self, p: float) -> float:
        """The p-th percentile of the queue wait (nearest rank), seconds."""
        if not self.waits:
            return 0.0
        ordered = sorted(self.waits)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    @property
    def p50(self) -> float:
        """Median queue wait, s."""
        return self.wait_pct(50)

    @property
    def p95(self) -> float:
        """95th percentile queue wait, s."""
        return self.wait_pct(95)

    @property
    def max_wait(self) -> float:
        """Longest queue wait, s."""
        return max(self.waits, default=0.0)


def arrival_times(params: RushParams, rng: random.Random) -> list[float]:
    """When each pupil reaches the gates. Morning: a beta(2.5, 1.8) curve over the window,
    thin at first and peaking a few minutes before the bell, as gate counts show. Home time:
    everyone is released at the bell, classrooms emptying over the first part of the window
    (gamma, mean a sixth of it)."""
    if params.arrivals is not None:
        return sorted(params.arrivals)
    w = params.window_s
    if params.session == "morning":
        times = [rng.betavariate(2.5, 1.8) * w for _ in range(params.pupils)]
    else:
        times = [min(rng.gammavariate(2.0, w / 12), w) for _ in range(params.pupils)]
    return sorted(times)


class _Kiosk:
    def __init__(self, env: simpy.Environment, params: RushParams, result: RushResult) -> None:
        self.readers = simpy.Resource(env, capacity=params.readers_per_kiosk)
        self.coils = simpy.Resource(env, capacity=params.max_coils)
        self.env, self.params, self.result = env, params, result
        self.doors_open = 0



def _pupil(env: simpy.Environment, choices: list[_Kiosk], kiosks: list[_Kiosk], at: float,
           rng: random.Random, result: RushResult) -> Generator[Any, Any, None]:
    p = choices[0].params
    walk, tap = p.walk_to_kiosk.draw(rng), p.tap.draw(rng)
    to_door, handle, close = (p.walk_to_door.draw(rng), p.handle_phone.draw(rng),
                              p.close_door.draw(rng))
    yield env.timeout(at + walk - env.now)
    # At the kiosks of their entrance, pupils join the shortest queue they can see.
    kiosk = min(choices, key=lambda k: len(k.readers.queue) + k.readers.count)
    queued = env.now
    with kiosk.readers.request() as reader:
        result.longest_queue = max(result.longest_queue, len(kiosk.readers.queue))
        yield reader
        result.waits.append(env.now - queued)
        yield env.timeout(tap + p.reader_s + p.software_s)
        # The pupil leaves the reader when the door pops: after a free coil is found.
        coil = kiosk.coils.request()
        yield coil
        env.process(_end_pulse(env, kiosk, coil))
    kiosk.doors_open += 1
    result.most_doors_open = max(result.most_doors_open, sum(k.doors_open for k in kiosks))
    yield env.timeout(to_door + handle + close)
    kiosk.doors_open -= 1
    result.finished_s = max(result.finished_s, env.now)


def _end_pulse(env: simpy.Environment, kiosk: _Kiosk,
               coil: simpy.resources.resource.Request) -> Generator[Any, Any, None]:
    # The lock's relay stays on for a pulse, holding one of the supply's coils.
    yield env.timeout(kiosk.params.pulse_s)
    kiosk.coils.release(coil)


def run_rush(params: RushParams) -> RushResult:
    """Simulate one session. Pupils come in evenly through the entrances and join the
    shortest queue among their entrance's kiosks."""
    if params.kiosks < 1 or params.readers_per_kiosk < 1:
        raise ValueError("a school needs at least one kiosk with one reader")
    rng = random.Random(params.seed)
    env = simpy.Environment()
    result = RushResult(params)
    kiosks = [_Kiosk(env, params, result) for _ in range(params.kiosks)]
    entrances = max(1, min(params.entrances, params.kiosks))
    # Kiosks are shared out between entrances; pupils come in evenly through each.
    at_entrance = [kiosks[e::entrances] for e in range(entrances)]
    for i, at in enumerate(arrival_times(params, rng)):
        env.process(_pupil(env, at_entrance[i % entrances], kiosks, at, rng, result))
    env.run()
    return result


@dataclass(frozen=True)
class SoftwareShare:
    """A run, the same run with the software instant, and the difference."""

    actual: RushResult
    instant: RushResult

    @property
    def p95_s(self) -> float:
        """Seconds of the p95 queue wait the software causes."""
        return self.actual.p95 - self.instant.p95

    @property
    def max_s(self) -> float:
        """Seconds of the longest queue wait the software causes."""
        return self.actual.max_wait - self.instant.max_wait


def software_share(params: RushParams) -> SoftwareShare:
    """Run ``params`` and again with ``software_s`` = 0 (same seed, same pupils)."""
    return SoftwareShare(run_rush(params), run_rush(replace(params, software_s=0.0)))


def describe(share: SoftwareShare) -> str:
    """A short report of a run, for a person."""
    r, p = share.actual, share.actual.params
    return (f"{p.session}: {p.pupils} pupils over {p.window_s / 60:.0f} min at {p.kiosks} "
            f"kiosk(s) x {p.readers_per_kiosk} reader(s)\n"
            f"  queue wait p50 {r.p50:.1f} s, p95 {r.p95:.1f} s, max {r.max_wait:.1f} s; "
            f"longest queue {r.longest_queue}; doors open at once {r.most_doors_open}\n"
            f"  software's share of the p95 wait {share.p95_s:.3f} s "
            f"(controller {p.software_s * 1000:.1f} ms a tap; reader {p.reader_s:.2f} s)")
