"""The [notify] section of server.toml: read, checked, and written back by the demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ServerConfig, dump, load
from server.errors import ServerConfigError
from server.notify.config import NotifyConfig


def test_notify_settings_are_read_with_the_smtp_password_from_its_own_file(
        tmp_path: Path) -> None:
    (tmp_path / "smtp.password").write_text("s3cret\n")
    path = tmp_path / "server.toml"
    path.write_text('[notify]\nenabled = true\nsmtp_security = "ssl"\nsmtp_port = 465\n'
                    'smtp_password_file = "smtp.password"\n'
                    '[notify.channels]\nsms = "json://127.0.0.1:9/sms/{to}"\n')
    notify = load(path).notify
    assert (notify.enabled, notify.smtp_security, notify.smtp_port) == (True, "ssl", 465)
    assert notify.smtp_password == "s3cret"
    assert notify.channels == {"sms": "json://127.0.0.1:9/sms/{to}"}


def test_a_misspelt_security_mode_is_refused_with_the_choices(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('[notify]\nsmtp_security = "tls"\n')
    with pytest.raises(ServerConfigError, match="none.*starttls.*ssl"):
        load(path)


def test_the_demo_config_round_trips_and_sends_nothing_by_default(tmp_path: Path) -> None:
    config = ServerConfig(notify=NotifyConfig(channels={"dsl_chat": "json://127.0.0.1:9/"},
                                              smtp_password="never written"))
    path = tmp_path / "server.toml"
    path.write_text(dump(config))
    assert "never written" not in path.read_text()
    again = load(path)
    assert again.notify.channels == {"dsl_chat": "json://127.0.0.1:9/"}
    assert load(path).notify.enabled is False and ServerConfig().notify.enabled is False
