"""Build :class:`Settings` from defaults, an optional TOML file and ``VOICE_INTAKE_*`` variables.

Precedence, lowest first: dataclass defaults, the TOML file (``--config`` or
``VOICE_INTAKE_CONFIG``), environment variables. Environment names are the dotted key in
upper case with ``_`` for ``.``: ``sip.port`` is ``VOICE_INTAKE_SIP_PORT``. Unknown keys and
values of the wrong type raise :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from config.settings import Settings

ENV_PREFIX = "VOICE_INTAKE_"
CONFIG_ENV = "VOICE_INTAKE_CONFIG"


class ConfigError(ValueError):
    """A configuration key is unknown or its value is invalid; the message names the key."""


def load_settings(
    path: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Load settings once; callers pass the result down explicitly."""
    import os

    env = dict(os.environ if environ is None else environ)
    path = path or env.get(CONFIG_ENV) or None
    values: dict[str, Any] = {}
    if path is not None:
        values = _read_toml(Path(path))
    _merge(values, _from_env(env))
    settings: Settings = _build(Settings, values, prefix="")
    _check_ranges(settings)
    return settings


def _check_ranges(settings: Settings) -> None:
    for key in ("whisper_window_s", "whisper_min_window_s"):
        window = getattr(settings.asr, key)
        if not 10.0 <= window <= 30.0:
            raise ConfigError(f"asr.{key}: expected 10 to 30 (seconds), got {window!r}")
    for section, key in (("asr", "decode_timeout_s"), ("asr", "max_backlog_s"),
                         ("sip", "setup_deadline_s"), ("sip", "dtmf_max_key_s"),
                         ("sip", "tcp_idle_timeout_s"), ("sip", "tcp_header_timeout_s"),
                         ("sip", "tcp_max_connections"), ("sip", "tcp_max_per_source"),
                         ("webrtc", "rate_limit_per_s"), ("webrtc", "rate_limit_burst"),
                         ("webrtc", "connect_timeout_s"), ("webrtc", "media_timeout_s"),
                         ("webrtc", "turn_ttl_s")):
        value = getattr(getattr(settings, section), key)
        if not value > 0:
            raise ConfigError(f"{section}.{key}: expected a positive number, got {value!r}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _env_keys(cls: type, prefix: str = "") -> dict[str, tuple[str, ...]]:
    """Map each environment variable name to the key path it sets."""
    keys: dict[str, tuple[str, ...]] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            for env_name, sub in _env_keys(hint, prefix + f.name.upper() + "_").items():  # type: ignore[arg-type]
                keys[env_name] = (f.name, *sub)
        else:
            keys[ENV_PREFIX + prefix + f.name.upper()] = (f.name,)
    return keys


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    known = _env_keys(Settings)
    values: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        key_path = known.get(name)
        if key_path is None:
            raise ConfigError(f"unknown environment variable {name}")
        node = values
        for part in key_path[:-1]:
            node = node.setdefault(part, {})
        node[key_path[-1]] = _EnvString(raw)
    return values


class _EnvString(str):
    """A value from the environment: lists are comma-separated, booleans spelled out."""


def _build(cls: type, values: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in names:
            raise ConfigError(f"unknown configuration key {prefix}{key}")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        hint = hints[f.name]
        key = prefix + f.name
        if dataclasses.is_dataclass(hint):
            kwargs[f.name] = _build(hint, values[f.name], key + ".")  # type: ignore[arg-type]
        else:
            kwargs[f.name] = _coerce(key, hint, values[f.name])
        if (check := _CHECKS.get(key)) is not None:
            check(key, kwargs[f.name])
    return cls(**kwargs)


def _sip_uri(key: str, value: str) -> None:
    if value and not value.lower().startswith(("sip:", "sips:")):
        raise ConfigError(f"{key}: expected a SIP URI such as sip:agents@10.0.0.5, got {value!r}")


def _sip_uris(key: str, value: Mapping[str, str]) -> None:
    for name, uri in value.items():
        if not uri:
            raise ConfigError(f"{key}.{name}: expected a SIP URI, got an empty string")
        _sip_uri(f"{key}.{name}", uri)


# Checks beyond the type, by key.
_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "ivr.agent_uri": _sip_uri, "ivr.queues": _sip_uris}


def _coerce_table(key: str, value_hint: Any, value: Any) -> dict[str, Any]:
    """A TOML table, or from the environment ``name=value`` pairs separated by commas."""
    if isinstance(value, _EnvString):
        table: dict[str, Any] = {}
        for pair in (p.strip() for p in value.split(",")):
            if not pair:
                continue
            name, sep, item = pair.partition("=")
            if not sep or not name.strip():
                raise ConfigError(f"{key}: expected name=value pairs separated by commas, "
                                  f"got {pair!r}")
            table[name.strip()] = _EnvString(item.strip())
        value = table
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a table, got {value!r}")
    return {str(name): _coerce(f"{key}.{name}", value_hint, item)
            for name, item in value.items()}


def _coerce(key: str, hint: Any, value: Any) -> Any:
    origin = get_origin(hint)
    args = get_args(hint)
    if origin in (typing.Union, types.UnionType):
        empty = value is None or (isinstance(value, _EnvString) and value == "")
        if empty and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(key, inner[0], value)
    if origin is typing.Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{key}: {value!r} is not one of {allowed}")
        return value
    if origin in (dict, Mapping, typing.Mapping):
        return _coerce_table(key, args[1], value)
    if origin is tuple:
        items = value.split(",") if isinstance(value, _EnvString) else value
        if not isinstance(items, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return tuple(_coerce(key, args[0], item.strip() if isinstance(item, str) else item)
                     for item in items if not (isinstance(item, str) and not item.strip()))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, _EnvString) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, _EnvString) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, _EnvString):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, _EnvString):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if hint is Path:
        if isinstance(value, str) and value:
            return Path(value).expanduser()
        raise ConfigError(f"{key}: expected a path, got {value!r}")
    raise ConfigError(f"{key}: unsupported setting type {hint!r}")  # pragma: no cover
