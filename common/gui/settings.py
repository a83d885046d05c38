"""GUI settings: the last connection values, theme, font size and language, in a small JSON file in the
user's config directory; and validation of the connect form, kept out of the widgets so it tests alone."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from common.protocol.casemap import is_valid_channel, is_valid_nick
from common.client.session import SessionConfig
from common.client.texts import tr
from common.protocol.tls import normalize_fingerprint

MIN_FONT, MAX_FONT = 8, 24


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 6667
    nick: str = ""
    channel: str = "#general"
    tls: bool = False
    tls_pin: str = ""  # SHA-256 fingerprint of a self-signed server certificate to trust
    theme: str = "light"
    font_size: int = 11
    lang: str = ""


def session_config(settings: Settings, nick: str, password: str | None) -> SessionConfig:
    """What a window connects with: the settings, a nick (the demo gives each window its own) and the
    password, which is never saved."""
    return SessionConfig(host=settings.host, port=settings.port, nick=nick, password=password,
                         tls=settings.tls or bool(settings.tls_pin), tls_pin=settings.tls_pin or None,
                         channels=(settings.channel,) if settings.channel else ())


def settings_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "classchat" / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    """The saved settings; defaults for anything missing, unreadable or of the wrong type."""
    path = path or settings_path()
    settings = Settings()
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return settings
    if not isinstance(stored, dict):
        return settings
    for field in fields(Settings):
        value = stored.get(field.name)
        if isinstance(value, type(getattr(settings, field.name))):
            setattr(settings, field.name, value)
    settings.font_size = min(MAX_FONT, max(MIN_FONT, settings.font_size))
    return settings


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write the settings (never a password); a write that fails is not worth interrupting a lesson."""
    path = path or settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(settings), ensure_ascii=False, indent=2), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        pass


def validate_connect_form(host: str, port: str, nick: str, channel: str, lang: str, tls_pin: str = "") -> list[str]:
    """Problems with what the user typed into the connect dialog, as messages to show; empty if fine."""
    problems = []
    if not host.strip():
        problems.append(tr("form_host", lang))
    if not port.strip().isdigit() or not 0 < int(port) < 65536:
        problems.append(tr("form_port", lang))
    if not is_valid_nick(nick.strip(), 30):
        problems.append(tr("form_nick", lang))
    if channel.strip() and not is_valid_channel(channel.strip(), 50):
        problems.append(tr("form_channel", lang))
    if tls_pin.strip():
        try:
            normalize_fingerprint(tls_pin)
        except ValueError:
            problems.append(tr("form_tls_pin", lang))
    return problems
