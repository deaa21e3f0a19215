"""The house rules of DESIGN.md about who imports whom, checked with import-linter against the
contracts in pyproject.toml: the kernel imports no other part, the drivers nothing of ours, the
controller no screen, server or launcher (and the drivers only through their interfaces), the
screen only the controller's public API, the server no kiosk code, nothing the launcher, and
the controller's modules form layers without a circle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_import_contract_of_the_house_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout

