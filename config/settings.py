"""Typed settings: one frozen object, built once by :func:`config.loader.load_settings`.

Every section is a frozen dataclass; the loader walks the type hints, so adding a field
here is all it takes to make it configurable from TOML and from ``VOICE_INTAKE_*``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

AsrEngineName = Literal["auto", "vosk", "whisper"]
# The event loop of the long-running commands: uvloop when installed ("auto"), or as named.
EventLoopName = Literal["auto", "uvloop", "asyncio"]
QuestionName = Literal["name", "address", "problem"]


@dataclass(frozen=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    # HTTPS for the console: a PEM certificate (chain) and its private key; both or neither.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Strict-Transport-Security max-age sent over HTTPS (0: no HSTS header).
    hsts_max_age_s: int = 31536000
    # Reverse proxies whose X-Forwarded-Proto and X-Forwarded-For are believed (addresses
    # or networks); from anyone else these headers are ignored.
    trusted_proxies: tuple[str, ...] = ()


RecordingAccess = Literal["all", "own"]


@dataclass(frozen=True)
class ConsoleSettings:
    # A session unused this long ends; none lives longer than session_max_hours.
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    min_password_length: int = 12
    # Which recordings and transcripts an agent may open: "all", or "own" (drafts the agent
    # has claimed, reviewed or dispatched). Admins open all. Every opening is audited.
    recording_access: RecordingAccess = "all"


@dataclass(frozen=True)
class RetentionSettings:
    # After this many days, recordings of calls whose work order is closed are deleted and
    # their transcripts redacted (0: kept forever). Runs daily; logged and audited.
    days: int = 0


RtpSource = Literal["sdp", "latch", "strict"]


@dataclass(frozen=True)
class SipSettings:
    host: str = "127.0.0.1"
    port: int = 5060
    enabled: bool = True
    # RFC 3261 timer base values, milliseconds.
    t1_ms: int = 500
    t2_ms: int = 4000
    t4_ms: int = 5000
    allowed_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    max_calls: int = 400
    rtp_port_min: int = 20000
    rtp_port_max: int = 29999
    rtp_timeout_s: float = 30.0
    # Address put in SDP answers; empty means the listen host (or 127.0.0.1 for 0.0.0.0).
    media_address: str = ""
    # Ringing before the call is answered (a CANCEL in this window gets 487).
    answer_delay_ms: int = 300
    # New calls (INVITEs) a second from one source address, with a burst allowance.
    rate_limit_per_s: float = 20.0
    rate_limit_burst: int = 40
    retry_after_s: int = 30
    # Optional digest authentication of trunks (RFC 8760 / 2617, MD5); empty means off.
    auth_realm: str = "voice-intake"
    auth_username: str = ""
    auth_password: str = ""
    # An INVITE not stored within this many seconds (database stalled) gets 503 +
    # Retry-After, never a late 480: the trunk routes the call elsewhere.
    setup_deadline_s: float = 5.0
    # Whose RTP a call takes: "sdp" (the SDP's connection address, or the first source
    # that sends, latched: symmetric RTP behind SBCs and NAT), "latch" (the first source
    # whatever the SDP says), "strict" (only the host that sent the INVITE).
    rtp_source: RtpSource = "sdp"
    # An RFC 4733 key with no end packet counts as released after this long.
    dtmf_max_key_s: float = 5.0
    # SIP over TCP: connections in all and per source address, and how long one may sit
    # idle or take to send a whole header before it is closed.
    tcp_max_connections: int = 2000
    tcp_max_per_source: int = 50
    tcp_idle_timeout_s: float = 120.0
    tcp_header_timeout_s: float = 10.0
    # SIP over TLS on its own port, on when a certificate and key are set (PEM files; the
    # certificate file may hold its chain), or with tls_self_signed. 0: any free port.
    tls_port: int = 5061
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Without tls_cert: make a self-signed certificate once in <data_dir>/tls and use it.
    # For trials only (the trunk must be told to trust it).
    tls_self_signed: bool = False
    # CA certificates (PEM) that a trunk's certificate must chain to when we connect to it
    # over TLS (a BYE after its connection closed); empty: the system's CAs.
    tls_ca_file: Path | None = None
    # Trunk networks (CIDRs, also in allowed_networks) whose calls must use SIP over TLS
    # and SRTP (RTP/SAVP, SDES keys): an INVITE from them over UDP or TCP gets 403, an
    # offer without SRTP 488. Needs TLS on.
    secure_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebRtcSettings:
    """Browser calls: WHIP (RFC 9725) at ``POST /whip`` and the public page ``/call``."""

    enabled: bool = True
    # Origins (scheme://host[:port]) whose pages may call /whip from a browser (CORS),
    # e.g. a city portal embedding /call; the service's own origin is always allowed.
    allowed_origins: tuple[str, ...] = ()
    # ICE servers for callers behind NAT: "stun:host:3478", "turn:host:3478?transport=udp".
    # The TURN ones use turn_username / turn_credential (coturn's static user).
    ice_servers: tuple[str, ...] = ()
    turn_username: str = ""
    turn_credential: str = ""
    # Or coturn's static-auth-secret (use-auth-secret): every page and call then gets its
    # own credentials, valid for turn_ttl_s (TURN REST API), and none lasting is published.
    turn_secret: str = ""
    turn_ttl_s: int = 86400
    # Browser calls at once (besides sip.max_calls for SIP and WebRTC together).
    max_calls: int = 100
    # POSTs to /whip (and loads of /call) a second from one address, with a burst.
    rate_limit_per_s: float = 1.0
    rate_limit_burst: int = 10
    # No media connection this long after the answer, or no audio this long: hang up.
    connect_timeout_s: float = 20.0
    media_timeout_s: float = 30.0


@dataclass(frozen=True)
class AsrSettings:
    engine: AsrEngineName = "auto"
    # Worker processes for decoding; 0 means one per core.
    workers: int = 0
    # Threads per worker for the engine; 0 means cores // workers (at least 1).
    threads_per_worker: int = 0
    # Utterances waiting for a worker before producers are made to wait (back-pressure).
    queue_size: int = 32
    whisper_model: str = "whisper-base-ct2"
    whisper_compute_type: str = "int8"
    whisper_beam_size: int = 5
    # Whisper's encoder windows (10-30 s): the smallest of min, min + 4 s, ... up to
    # whisper_window_s that fits the utterance with a second to spare, else 30 s (see
    # asr.engines.whisper). A min above whisper_window_s counts as whisper_window_s.
    whisper_window_s: float = 30.0
    whisper_min_window_s: float = 30.0
    vosk_model: str = "vosk-model-small-cn-0.22"
    language: str = "zh"
    # Utterances of concurrent calls decoded together by one worker (Whisper batching).
    max_batch: int = 4
    # Prompt Whisper with hot words from the shipped gazetteer and taxonomy.
    whisper_hotwords: bool = False
    # Per-question decoding: an answer to the intake's name, address or problem question
    # is decoded a second time with a bias for that question (a prompt for Whisper, a
    # grammar for Vosk); the biased reading feeds those fields, the free one stays the
    # transcript (see workorders.questions).
    question_decoding: bool = False
    # The second pass: every utterance of free speech (a caller telling it all in one go,
    # not answering an intake question) is decoded again for each question listed here
    # (name, address, problem), with that question's bias; each biased reading feeds only
    # its question's fields, the free decode stays the transcript. One more decode per
    # question per utterance. On 60 unseen held-out calls (set C) name + address took
    # surname 68 -> 78%, district 93 -> 98%, street 87 -> 93% from audio (bench/heldout).
    # Empty: off.
    second_pass: tuple[QuestionName, ...] = ("name", "address")
    # Hypotheses per utterance (n-best; Whisper: at most the beam size): the drafter may
    # read a place, a category or a name from the others (1 turns it off).
    nbest: int = 4
    # The same for Vosk (SetMaxAlternatives). Off by default: Kaldi then reads the best
    # paths of its lattice instead of its MBR decoding, which changes the text itself.
    vosk_nbest: int = 1
    # A worker that answers no decode for this long is hung: it is killed and replaced,
    # and its utterances retried once, as after a crash.
    decode_timeout_s: float = 60.0
    # New calls get 503 + Retry-After while more than this many seconds of caller audio
    # wait to be decoded (calls in progress are never dropped).
    max_backlog_s: float = 180.0


@dataclass(frozen=True)
class VadSettings:
    # webrtcvad aggressiveness, 0 (least) to 3 (most).
    aggressiveness: int = 2
    frame_ms: int = 30
    # Voiced time within the start window needed to declare speech.
    start_ms: int = 150
    # Unvoiced time after speech that ends an utterance (end hangover).
    end_ms: int = 700
    # The same for engines that decode whole utterances (Whisper): a pause between
    # sentences shorter than this stays inside the utterance (up to max_utterance_s), so
    # Whisper hears each sentence with the one before, as the bare engine does. At 700 ms
    # the public long clips (read sentences, 1 s pauses) lost 3 points of CER against
    # the bare engine; at 1500 ms none. Finals come 0.8 s later.
    sentence_pause_ms: int = 1500
    # Audio kept from before the detected start, so that onsets are not clipped.
    pre_roll_ms: int = 300
    min_speech_ms: int = 250
    # Long speech is split at its quietest point of its last third. 28 s: it still fits
    # one 30 s Whisper window, and every cut loses context (at 12 s the calls and the long
    # public clips lost 1-3 points of CER against the bare engine); the engine goes on
    # where Whisper stops early in a long window. Latency grows with length.
    max_utterance_s: float = 28.0
    # A frame webrtcvad calls voiced counts as speech only if it is periodic (voiced
    # speech has a pitch; hiss and hum do not) or this many dB above the noise floor.
    periodicity: float = 0.5
    noise_snr_db: float = 9.0
    # Silence kept after the last voiced frame of an utterance (soft syllable endings).
    tail_ms: int = 300


@dataclass(frozen=True)
class DraftingSettings:
    due_days: int = 7
    urgent_due_hours: int = 2
    repeat_window_days: int = 30
    escalate_at: int = 3
    # A call that ended but whose draft failed (database or drafter fault) is drafted again
    # by a sweep every sweep_interval_s, once it has waited retry_after_s (0: no sweep; the
    # next start-up's recovery takes it then).
    sweep_interval_s: float = 60.0
    retry_after_s: float = 120.0
    # The learning loop: a correction (heard → value) seen on this many drafts becomes a
    # proposed alias for an admin to approve.
    learn_min_count: int = 3
    # Optional overrides of the data shipped in config/data.
    taxonomy_file: Path | None = None
    gazetteer_file: Path | None = None
    dispatch_file: Path | None = None


@dataclass(frozen=True)
class IvrSettings:
    # The menu new calls start with: "default" (the shipped one) or a file path.
    menu: str = "default"
    # Prompt audio (<id>.wav, 8 kHz μ-law); empty: <data_dir>/prompts.
    prompt_dir: Path | None = None
    # Offline TTS for prompt texts: {text} is the text (else stdin), {out} an output file
    # (else stdout). espeak-ng's Mandarin voice is the default; any command that writes
    # common audio works (e.g. a local piper or sherpa-onnx binary). The voice is
    # cmn-latn-pinyin: espeak-ng's plain "cmn" turns many characters into pinyin with a
    # tone digit and reads that as English (您好 became "nin two hao three").
    tts_command: tuple[str, ...] = (
        "espeak-ng", "-v", "cmn-latn-pinyin", "-s", "150", "--stdout", "{text}"
    )
    tts_timeout_s: float = 30.0
    # SIP calls go through the menu; false sends every call straight to intake.
    enabled: bool = True
    # Where `queue` and `transfer` nodes send callers by SIP REFER: a node whose target is
    # itself a SIP URI goes there; any other target (a queue name) goes to this agent URI
    # (an ACD or agent group on the PBX). Empty: no agents reachable, so such calls go on
    # to the node's `next` (in the default menu: the intake).
    agent_uri: str = ""
    # Queue names to SIP URIs, for menus with several queues ([ivr.queues] complaints =
    # "sip:complaints@pbx"; in the environment "complaints=sip:…,water=sip:…"). A queue
    # named here goes to its URI; one not named goes to agent_uri.
    queues: Mapping[str, str] = field(default_factory=dict)


LogFormat = Literal["text", "json"]


@dataclass(frozen=True)
class LogSettings:
    # "json": one JSON object a line (ts, level, logger, event, call_id, node), for Loki,
    # Elasticsearch or journald; "text": the classic one-line format.
    format: LogFormat = "text"
    # The node name in JSON lines; empty means the host name.
    node: str = ""


@dataclass(frozen=True)
class MetricsSettings:
    # /metrics (Prometheus text format) is served without a console session to these
    # networks, and to anyone sending ``Authorization: Bearer <token>`` when token is set.
    enabled: bool = True
    allowed_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    token: str = ""


@dataclass(frozen=True)
class AnalyticsSettings:
    # Local time of the centre: days, weeks and months of the reports and alerts.
    timezone: str = "Asia/Shanghai"
    # 未诉先办 spike alerts: checked every check_interval_s over the last hour and day.
    spikes_enabled: bool = True
    check_interval_s: float = 300.0
    # A count is a spike when it has at least min_count orders and its Poisson tail
    # probability under the baseline is below p_value (workorders/spikes.py says how).
    spike_min_count: int = 5
    spike_p_value: float = 0.0001
    # Days of history the baseline is taken from (the same weekday's in it).
    baseline_days: int = 28
    # Alerts are POSTed as JSON to this URL (empty: none are sent).
    alert_webhook: str = ""
    webhook_timeout_s: float = 5.0


@dataclass(frozen=True)
class ClusterSettings:
    # This node's id, stored with every call it takes and on its heartbeat row; empty
    # means log.node, else the host name. Each process behind Kamailio needs its own.
    node_id: str = ""
    # Secret other nodes send (Authorization: Bearer) to this node's /internal/ routes
    # (recordings, drain); empty turns those routes off.
    secret: str = ""
    # This node's HTTP address as the other nodes reach it; empty: http://<http.host>:<port>.
    internal_url: str = ""
    # A directory every node mounts (NFS): recordings go to <dir>/<node_id>/ and any node
    # reads any node's recordings there instead of fetching them from their node.
    shared_recordings_dir: Path | None = None
    # The heartbeat row is updated this often; a node silent for dead_after_s is shown
    # as stopped reporting.
    heartbeat_interval_s: float = 5.0
    dead_after_s: float = 30.0
    # drain and SIGTERM: calls in progress get this long to finish, then are hung up.
    drain_timeout_s: float = 3600.0


SipTransportName = Literal["udp", "tcp", "tls"]


@dataclass(frozen=True)
class CallbackSettings:
    """回访: survey callbacks after an order is handled (README: Callbacks)."""

    # The scheduler runs inside `serve` and dials queued callbacks.
    enabled: bool = False
    # The outbound trunk (or proxy) our INVITEs go to; empty host: straight to the URI's.
    trunk_host: str = ""
    trunk_port: int = 5060
    trunk_transport: SipTransportName = "udp"
    # Digest credentials the trunk challenges for (401/407); empty: none.
    trunk_username: str = ""
    trunk_password: str = ""
    # Caller ID: the hotline's number in From, and its host (empty: our address).
    caller_id: str = "12345"
    caller_domain: str = ""
    display_name: str = ""
    # Citizens are dialled as sip:<number>@<target_domain> (empty: trunk_host).
    target_domain: str = ""
    ring_timeout_s: float = 45.0
    # 3xx followed at most this often, and only to the target's host or these hosts.
    max_redirects: int = 1
    redirect_hosts: tuple[str, ...] = ()
    # The survey menu: "survey" (shipped) or a file path.
    menu: str = "survey"
    # Local calling hours (analytics.timezone), start inclusive, end exclusive.
    calling_hours: str = "08:00-21:00"
    # Attempts per order, and the wait before the next one by outcome (doubled each time).
    max_attempts: int = 3
    retry_busy_s: float = 600.0
    retry_no_answer_s: float = 1800.0
    retry_failed_s: float = 900.0
    # Per trunk: calls up at once and new attempts per second.
    max_concurrent: int = 4
    attempts_per_second: float = 1.0
    # How often the scheduler looks for due callbacks.
    poll_interval_s: float = 5.0


def _default_data_dir() -> Path:
    return Path("data")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    # SQLAlchemy URL; empty means an SQLite file in data_dir.
    database_url: str = ""
    # Explicit model directory; checked before the user cache.
    model_dir: Path | None = None
    log_level: str = "INFO"
    event_loop: EventLoopName = "auto"
    http: HttpSettings = field(default_factory=HttpSettings)
    sip: SipSettings = field(default_factory=SipSettings)
    webrtc: WebRtcSettings = field(default_factory=WebRtcSettings)
    asr: AsrSettings = field(default_factory=AsrSettings)
    vad: VadSettings = field(default_factory=VadSettings)
    drafting: DraftingSettings = field(default_factory=DraftingSettings)
    ivr: IvrSettings = field(default_factory=IvrSettings)
    log: LogSettings = field(default_factory=LogSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'voice-intake.db').resolve()}"

    @property
    def prompt_dir(self) -> Path:
        return self.ivr.prompt_dir or self.data_dir / "prompts"

    @property
    def recordings_dir(self) -> Path:
        if self.cluster.shared_recordings_dir is not None:
            return self.cluster.shared_recordings_dir / self.node_id
        return self.data_dir / "recordings"

    @property
    def node_id(self) -> str:
        """This node's id: cluster.node_id, else log.node, else the host name."""
        import socket

        return self.cluster.node_id or self.log.node or socket.gethostname()

    @property
    def asr_workers(self) -> int:
        return self.asr.workers or (os.cpu_count() or 1)

    @property
    def asr_threads(self) -> int:
        if self.asr.threads_per_worker:
            return self.asr.threads_per_worker
        return max(1, (os.cpu_count() or 1) // self.asr_workers)
