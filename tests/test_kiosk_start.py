"""Starting a kiosk process: a start that fails says why in one line and leaves nothing it
started running (no stray pcscd holding the reader after a misconfigured kiosk)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lockers.kiosk_config import KioskConfig, dump_kiosk_config

REPO = Path(__file__).resolve().parents[1]


def _pcscd_of(state_dir: Path) -> list[str]:
    ps = subprocess.run(["ps", "-eww", "-o", "args="], capture_output=True, text=True, check=True)
    return [line for line in ps.stdout.splitlines()
            if "pcscd" in line and str(state_dir) in line]


def test_a_kiosk_that_fails_to_start_says_why_and_leaves_no_pcscd_behind(
        tmp_path: Path) -> None:
    state = tmp_path / "kiosk"
    state.mkdir()
    config = tmp_path / "kiosk.toml"
    config.write_text(dump_kiosk_config(KioskConfig(
        site="school1", kiosk="k1", card_key="test-card-key-123", state_dir=state,
        pinmap=tmp_path / "no-such-pinmap.toml")))
    # As a kiosk started on its own: no pcscd named by an earlier test's environment.
    env = {k: v for k, v in os.environ.items() if k != "PCSCLITE_CSOCK_NAME"}
    run = subprocess.run([sys.executable, "-m", "launcher.cli", "kiosk", "--config",
                          str(config), "--sim"], cwd=REPO, capture_output=True, text=True,
                         timeout=60, env=env)
    assert run.returncode == 2, run.stderr[-2000:]
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "no-such-pinmap.toml" in last, last
    assert (state / "pcscd").exists(), "the sim readers' pcscd was started first"
    assert _pcscd_of(state) == []  # stopped on the way out, not left running
