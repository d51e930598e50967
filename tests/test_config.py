from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings


def test_defaults() -> None:
    s = load_settings(environ={})
    assert s.http.port == 8080
    assert s.sip.port == 5060
    assert s.asr.engine == "auto"
    assert s.sip.allowed_networks == ("127.0.0.0/8", "::1/128")
    assert s.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert s.effective_database_url.endswith("data/voice-intake.db")


def test_required_environment_variables() -> None:
    s = load_settings(environ={
        "VOICE_INTAKE_DATABASE_URL": "postgresql+asyncpg://u@localhost/db",
        "VOICE_INTAKE_DATA_DIR": "/srv/vi",
        "VOICE_INTAKE_MODEL_DIR": "/models",
        "VOICE_INTAKE_SIP_PORT": "5070",
        "VOICE_INTAKE_HTTP_PORT": "8081",
    })
    assert s.effective_database_url == "postgresql+asyncpg://u@localhost/db"
    assert s.data_dir == Path("/srv/vi")
    assert s.recordings_dir == Path("/srv/vi/recordings")
    assert s.model_dir == Path("/models")
    assert (s.sip.port, s.http.port) == (5070, 8081)


def test_toml_file_then_environment_wins(tmp_path: Path) -> None:
    cfg = tmp_path / "vi.toml"
    cfg.write_text(
        'log_level = "DEBUG"\n[http]\nport = 9000\nhost = "0.0.0.0"\n'
        '[sip]\nallowed_networks = ["10.1.0.0/16"]\n[vad]\naggressiveness = 3\n',
        encoding="utf-8",
    )
    s = load_settings(cfg, environ={"VOICE_INTAKE_HTTP_PORT": "9100"})
    assert s.log_level == "DEBUG"
    assert s.http.host == "0.0.0.0"
    assert s.http.port == 9100
    assert s.sip.allowed_networks == ("10.1.0.0/16",)
    assert s.vad.aggressiveness == 3


def test_config_file_from_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "vi.toml"
    cfg.write_text("[asr]\nengine = \"whisper\"\n", encoding="utf-8")
    s = load_settings(environ={"VOICE_INTAKE_CONFIG": str(cfg)})
    assert s.asr.engine == "whisper"


def test_env_lists_and_booleans() -> None:
    s = load_settings(environ={
        "VOICE_INTAKE_SIP_ALLOWED_NETWORKS": "10.0.0.0/8, 192.0.2.0/24",
        "VOICE_INTAKE_SIP_ENABLED": "false",
        "VOICE_INTAKE_SIP_RTP_TIMEOUT_S": "12.5",
    })
    assert s.sip.allowed_networks == ("10.0.0.0/8", "192.0.2.0/24")
    assert s.sip.enabled is False
    assert s.sip.rtp_timeout_s == 12.5


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("colour = 1\n", "unknown configuration key colour"),
        ("[sip]\nprot = 5060\n", "unknown configuration key sip.prot"),
        ("[nonsense]\na = 1\n", "unknown configuration key nonsense"),
        ("[sip]\nport = \"five\"\n", "sip.port: expected an integer"),
        ("[sip]\nport = true\n", "sip.port: expected an integer"),
        ("[asr]\nengine = \"kaldi\"\n", "asr.engine: 'kaldi' is not one of"),
        ("[sip]\nenabled = \"yes\"\n", "sip.enabled: expected true or false"),
        ("http = 3\n", "http: expected a table"),
        ("[sip]\nallowed_networks = \"10.0.0.0/8\"\n", "sip.allowed_networks: expected a list"),
        ("[http\n", "vi.toml"),
        ("[ivr]\nagent_uri = \"10.0.0.5\"\n", "ivr.agent_uri: expected a SIP URI"),
        ("[ivr]\nqueues = \"water\"\n", "ivr.queues: expected a table"),
        ("[ivr.queues]\nwater = \"10.0.0.5\"\n", "ivr.queues.water: expected a SIP URI"),
        ("[ivr.queues]\nwater = 5\n", "ivr.queues.water: expected a string"),
    ],
)
def test_bad_toml_names_the_key(tmp_path: Path, toml: str, message: str) -> None:
    cfg = tmp_path / "vi.toml"
    cfg.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_settings(cfg, environ={})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VOICE_INTAKE_SIP_PORTS": "1"}, "unknown environment variable VOICE_INTAKE_SIP_PORTS"),
        ({"VOICE_INTAKE_HTTP_PORT": "80a"}, "http.port: expected an integer, got '80a'"),
        ({"VOICE_INTAKE_VAD_MAX_UTTERANCE_S": "long"}, "vad.max_utterance_s: expected a number"),
        ({"VOICE_INTAKE_ASR_ENGINE": "google"}, "asr.engine"),
        ({"VOICE_INTAKE_ASR_WHISPER_WINDOW_S": "5"}, "asr.whisper_window_s: expected 10 to 30"),
        ({"VOICE_INTAKE_ASR_WHISPER_WINDOW_S": "31"}, "asr.whisper_window_s: expected 10 to 30"),
        ({"VOICE_INTAKE_ASR_WHISPER_MIN_WINDOW_S": "8"},
         "asr.whisper_min_window_s: expected 10 to 30"),
        ({"VOICE_INTAKE_ASR_SECOND_PASS": "name,phone"}, "asr.second_pass: 'phone' is not one"),
    ],
)
def test_bad_environment_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_queues_from_toml_and_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "vi.toml"
    cfg.write_text('[ivr.queues]\ncomplaints = "sip:complaints@10.0.0.5"\n', encoding="utf-8")
    assert load_settings(cfg, environ={}).ivr.queues == {
        "complaints": "sip:complaints@10.0.0.5"}
    s = load_settings(cfg, environ={
        "VOICE_INTAKE_IVR_QUEUES": "water=sip:water@10.0.0.6, gas=sip:gas@10.0.0.7"})
    assert s.ivr.queues == {"water": "sip:water@10.0.0.6", "gas": "sip:gas@10.0.0.7"}
    with pytest.raises(ConfigError, match=r"ivr\.queues: expected name=value pairs"):
        load_settings(environ={"VOICE_INTAKE_IVR_QUEUES": "sip:water@10.0.0.6"})
    with pytest.raises(ConfigError, match=r"ivr\.queues\.gas: expected a SIP URI"):
        load_settings(environ={"VOICE_INTAKE_IVR_QUEUES": "gas=10.0.0.7"})


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_settings_are_frozen() -> None:
    s = load_settings(environ={})
    with pytest.raises(AttributeError):
        s.http.port = 1  # type: ignore[misc]


def test_the_second_pass_is_on_for_the_name_and_address_and_can_be_chosen_or_off() -> None:
    assert load_settings(environ={}).asr.second_pass == ("name", "address")
    assert load_settings(environ={"VOICE_INTAKE_ASR_SECOND_PASS": "address"}).asr.second_pass \
        == ("address",)
    assert load_settings(environ={"VOICE_INTAKE_ASR_SECOND_PASS": ""}).asr.second_pass == ()
