"""The rush model against cases worked out by hand, and the curves it draws pupils from."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace

import pytest

from launcher.rush import RushParams, Spread, arrival_times, run_rush, software_share

# One kiosk, one reader, ten pupils reaching it one second apart, nobody walking, and a fixed
# 2.5 s at the reader (2 s tapping + 0.5 s of kiosk software). Pupil k arrives at k and starts
# at 2.5 k, so waits k x 1.5 s: 0, 1.5, ..., 13.5. With the software instant the service is
# 2 s and pupil k waits k x 1 s: the software's share of the longest wait is 13.5 - 9 = 4.5 s.
BY_HAND = RushParams(
    pupils=10, kiosks=1, readers_per_kiosk=1, arrivals=[float(k) for k in range(10)],
    walk_to_kiosk=Spread(0), tap=Spread(2), reader_s=0.0, software_s=0.5, max_coils=4,
    pulse_s=0.5, walk_to_door=Spread(2), handle_phone=Spread(3), close_door=Spread(1))


def test_one_reader_with_a_fixed_service_time_queues_as_the_arithmetic_says() -> None:
    result = run_rush(BY_HAND)
    assert result.waits == pytest.approx([1.5 * k for k in range(10)])
    assert result.p95 == pytest.approx(13.5)  # nearest rank: the 10th of 10
    assert result.p50 == pytest.approx(6.0)  # the 5th of 10
    assert result.max_wait == pytest.approx(13.5)
    assert result.longest_queue == 6  # at 9 s pupil 3 is at the reader; 4 to 9 are waiting
    # A door is open 6 s from its release; releases come every 2.5 s: three at once.
    assert result.most_doors_open == 3


def test_software_share_is_the_same_run_with_the_software_instant() -> None:
    share = software_share(BY_HAND)
    assert share.instant.waits == pytest.approx([1.0 * k for k in range(10)])
    assert share.max_s == pytest.approx(4.5)
    assert share.p95_s == pytest.approx(4.5)


def test_the_coil_limit_holds_pupils_at_the_reader_until_a_coil_is_free() -> None:
    # One coil and a 4 s pulse. Pupil 0 is served 0-2.5 and takes the coil until 6.5;
    # pupil 1 is served 2.5-5 but leaves the reader only at 6.5, when the coil is free
    # (until 10.5), and so on: from pupil 1 on, pupil k starts at 4 k - 1.5 and waits
    # 3 k - 1.5 s, where without the limit they would wait 1.5 k s.
    result = run_rush(replace(BY_HAND, max_coils=1, pulse_s=4.0))
    assert result.waits == pytest.approx([0.0] + [3.0 * k - 1.5 for k in range(1, 10)])


def test_no_queue_when_pupils_come_slower_than_the_kiosk_serves() -> None:
    result = run_rush(replace(BY_HAND, arrivals=[3.0 * k for k in range(10)]))
    assert result.max_wait == 0


def test_morning_arrivals_fill_the_window_and_peak_late_and_home_time_comes_at_once() -> None:
    morning = arrival_times(RushParams(pupils=2000, window_s=1200), random.Random(3))
    assert len(morning) == 2000 and morning[0] >= 0 and morning[-1] <= 1200
    assert statistics.median(morning) > 600  # most pupils come in the second half
    home = arrival_times(RushParams(pupils=2000, window_s=1200, session="home"),
                         random.Random(3))
    assert statistics.median(home) < 1200 / 4


def test_a_school_without_kiosks_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one kiosk"):
        run_rush(replace(BY_HAND, kiosks=0))


def test_pupils_join_the_shortest_queue_at_their_own_entrance_only() -> None:
    # Six pupils at once, 2.5 s each at a reader, three kiosks. Through one entrance they
    # fill the three queues evenly: waits 0, 0, 0, 2.5, 2.5, 2.5. Through two entrances the
    # first entrance has kiosks 1 and 3 and the second only kiosk 2: its three pupils wait
    # 0, 2.5 and 5 s while the first entrance's wait 0, 0, 2.5.
    six = replace(BY_HAND, pupils=6, kiosks=3, arrivals=[0.0] * 6)
    assert sorted(run_rush(six).waits) == pytest.approx([0, 0, 0, 2.5, 2.5, 2.5])
    two = run_rush(replace(six, entrances=2))
    assert sorted(two.waits) == pytest.approx([0, 0, 0, 2.5, 2.5, 5.0])
