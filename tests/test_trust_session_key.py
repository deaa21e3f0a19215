"""The web sessions' signing key for a trust's server processes (server/serve.py).

Sessions live in the database; the key signs the cookie naming one. Processes that share a
key share sessions (tests/test_trust_web_processes.py shows it across two real processes).
"""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from server.config import ServerConfig, WebSettings
from server.errors import ServerConfigError
from server.serve import session_key

POSTGRES = "postgresql+psycopg://lockers@127.0.0.1:5432/trust"  # never connected to here


def test_processes_starting_together_beside_one_server_toml_agree_on_one_key(
        tmp_path: Path) -> None:
    config = ServerConfig(database_url=POSTGRES, config_dir=str(tmp_path))
    starting = 16
    at_once = threading.Barrier(starting)
    keys: list[str] = []

    def start() -> None:
        at_once.wait()
        keys.append(session_key(config))

    threads = [threading.Thread(target=start) for _ in range(starting)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(keys) == starting
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    key_file = tmp_path / "web-session.key"
    assert key_file.read_text() == keys[0]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # readable by the server alone
    assert [p.name for p in tmp_path.iterdir()] == ["web-session.key"]  # nothing left over


def test_the_key_is_kept_beside_server_toml_and_never_in_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = tmp_path / "etc-lockers"
    work = tmp_path / "working-directory"
    work.mkdir()
    monkeypatch.chdir(work)
    key = session_key(ServerConfig(database_url=POSTGRES, config_dir=str(host)))
    assert (host / "web-session.key").read_text() == key
    assert not list(work.iterdir())
    # A restart reads the same key: nobody is signed out.
    assert session_key(ServerConfig(database_url=POSTGRES, config_dir=str(host))) == key


def test_the_trusts_key_file_is_used_as_it_is_on_every_host(tmp_path: Path) -> None:
    deployed = tmp_path / "trust.key"
    deployed.write_text("the trust's key\n")
    for host in ("host1", "host2"):
        config = ServerConfig(database_url=POSTGRES, config_dir=str(tmp_path / host),
                              web=WebSettings(secret_key_file=str(deployed)))
        assert session_key(config) == "the trust's key"


def test_an_empty_key_file_stops_start_up_with_what_to_do(tmp_path: Path) -> None:
    empty = tmp_path / "trust.key"
    empty.write_text("\n")
    config = ServerConfig(database_url=POSTGRES, web=WebSettings(secret_key_file=str(empty)))
    with pytest.raises(ServerConfigError, match="is empty: delete it"):
        session_key(config)
