"""Calls from SIP trunks: a thin router from the SIP core to one call runner per call.

How it works. The sans-IO core (``voice_gateway.sip``) runs over UDP, TCP and (with a
certificate) TLS through :class:`SipEndpoint`; its request screen applies admission control
before the core sees a new request. Admission counts the runners, and a runner is
registered synchronously when its INVITE is delivered, so a pipelined burst can never exceed
``sip.max_calls``, and a CANCEL or BYE read in the same segment finds its call. Each call's
life is a :class:`~voice_gateway.calls.runner.CallRunner` driving the pure
:class:`~voice_gateway.calls.machine.CallMachine`; :class:`SipCallTransport` is what the
runner sees of SIP and RTP (answer, reject, BYE, REFER, prompts, media). Everything else
here only turns SIP events into the machine's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

from config import SipSettings
from storage.repository import new_id
from voice_gateway import metrics
from voice_gateway.calls import machine as m
from voice_gateway.calls.admission import AdmissionControl, Decision
from voice_gateway.calls.audio import CallAudio
from voice_gateway.calls.caller_id import parse_caller_id
from voice_gateway.calls.lifecycle import hang_up_all, render_prompts
from voice_gateway.calls.masking import mask_number
from voice_gateway.calls.menus import MenuSource, transfer_target
from voice_gateway.calls.prompts import PromptLibrary
from voice_gateway.calls.runner import CallRunner
from voice_gateway.rtp import AudioFrame, DtmfDigit, PortAllocator, RtpEndpoint, RtpSettings
from voice_gateway.rtp.g711 import codec_for_name
from voice_gateway.rtp.srtp import SrtpContext
from voice_gateway.services import Services
from voice_gateway.sip import (
    AudioPolicy,
    CallCancelled,
    CallEnded,
    CallHandle,
    Dtmf,
    HoldChanged,
    IncomingCall,
    MediaChanged,
    NegotiatedAudio,
    NoCommonCodec,
    Refusal,
    TimerConfig,
    TransferProgress,
    UasConfig,
    answer_offer,
)
from voice_gateway.sip import Event as SipEvent
from voice_gateway.sip.auth import AuthResult, DigestAuthenticator
from voice_gateway.sip.dialog import CallState as SipCallState
from voice_gateway.sip.events import (
    MediaAnswered,
    MediaAnswerFailed,
    OutboundAnswered,
    OutboundFailed,
    OutboundProgress,
)
from voice_gateway.sip.headers import NameAddress
from voice_gateway.sip.message import Request
from voice_gateway.sip.sdes import new_master_key
from voice_gateway.sip.sdp import SessionDescription, build_offer, offered_audio
from voice_gateway.sip.tls import client_context, server_context, trial_pair
from voice_gateway.sip.transport import SipEndpoint, TcpLimits
from voice_gateway.sip.uac import UserAgent

log = logging.getLogger(__name__)
SAMPLE_RATE = 8000
_PLACEHOLDER_PORT = 9  # the SDP answer is negotiated before the RTP port is bound


def advertised_host(settings: SipSettings) -> str:
    """The address put in Contact and SDP: configured, else the listen address."""
    if settings.media_address:
        return settings.media_address
    if settings.host in ("0.0.0.0", "::", ""):
        return socket.gethostbyname(socket.gethostname())
    return settings.host


def tls_context(settings: SipSettings, data_dir: Path, host: str) -> ssl.SSLContext | None:
    """Our TLS server context from ``sip.tls_cert``/``sip.tls_key``, or from a trial pair
    (made once in ``data_dir/tls``) with ``sip.tls_self_signed``; ``None``: TLS is off.
    Raises ``ValueError`` for settings that cannot work."""
    cert, key = settings.tls_cert, settings.tls_key
    if (cert is None) != (key is None):
        raise ValueError("sip.tls_cert and sip.tls_key go together")
    if cert is None and settings.tls_self_signed:
        hosts = [host, *(h for h in (settings.host, "localhost") if h not in ("0.0.0.0", "::"))]
        cert, key = trial_pair(data_dir / "tls", hosts)
        log.warning("SIP over TLS with a self-signed trial certificate (%s): for trials only",
                    cert)
    if cert is None or key is None:
        if settings.secure_networks:
            raise ValueError("sip.secure_networks needs SIP over TLS: set sip.tls_cert and "
                             "sip.tls_key (or sip.tls_self_signed for a trial)")
        return None
    try:
        return server_context(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"sip.tls_cert / sip.tls_key: cannot load {cert}: {exc}") from None


def caller_user(request: Request) -> str | None:
    """The caller's user part as sent: P-Asserted-Identity if the trunk sends one, else
    From (validated by :func:`parse_caller_id` before anything uses it)."""
    for value in request.headers.fields("P-Asserted-Identity"):
        with contextlib.suppress(ValueError):
            user = NameAddress.parse(value).uri.user
            if user:
                return user
    try:
        return request.from_.uri.user
    except ValueError:
        return None


class SipCallTransport:
    """SIP and RTP as one call's runner sees them."""

    def __init__(self, gateway: SipGateway, handle: CallHandle, source: tuple[str, int],
                 answer: SessionDescription, media: NegotiatedAudio) -> None:
        self.gateway = gateway
        self.handle = handle
        self.source = source
        self.sdp = answer
        self.media = media
        self.audio: CallAudio | None = None
        self.runner: CallRunner | None = None
        s = gateway.settings
        self.rtp = RtpEndpoint(
            RtpSettings(codec=codec_for_name(media.codec).with_payload_type(media.payload_type),
                        dtmf_payload_type=media.telephone_event_pt,
                        inactivity_timeout=s.rtp_timeout_s, source=s.rtp_source,
                        max_key_s=s.dtmf_max_key_s,
                        comfort_noise_payload_type=media.comfort_noise_pt),
            on_audio=self._on_audio, on_dtmf=self._on_dtmf, on_timeout=self._on_timeout,
            on_sent_audio=self._on_sent,
        )
        self.answered_at: float | None = None
        self.port = 0
        self._media_seen = False

    @property
    def endpoint(self) -> SipEndpoint:
        return self.gateway.endpoint

    async def prepare(self) -> None:
        g = self.gateway
        self.endpoint.ringing(self.handle)
        bind_host = g.host if g.settings.host in ("0.0.0.0", "::") else g.settings.host
        self.port = await self.rtp.bind(bind_host, g.ports)
        for md in self.sdp.media:
            if md.port == _PLACEHOLDER_PORT:
                md.port = self.port
        self.apply_media(self.media)

    def apply_media(self, media: NegotiatedAudio) -> None:
        """What an offer/answer agreed (the INVITE's, then every re-INVITE's): codec and
        payload types, the SDP address (a new one drops the RTP latch), and whether we may
        send (not while held: recvonly or inactive)."""
        self.media = media
        codec = codec_for_name(media.codec).with_payload_type(media.payload_type)
        self.rtp.set_codec(codec, media.telephone_event_pt, media.comfort_noise_pt)
        keys, current = media.srtp, self.rtp.srtp
        if keys is None:
            if current is not None:
                self.rtp.set_srtp(None)
        elif current is None or not current.matches(keys.suite, keys.local_key,
                                                    keys.remote_key):  # fmt: skip
            self.rtp.set_srtp(SrtpContext(keys.suite, keys.local_key, keys.remote_key))
        if media.remote_port and media.remote_host not in ("0.0.0.0", "::"):
            self.rtp.set_remote((media.remote_host, media.remote_port),
                                signalling_host=self.source[0])
        self.rtp.set_sending(media.direction in ("sendrecv", "sendonly"))

    def answer(self) -> bool:
        if not self.endpoint.answer(self.handle, self.sdp):
            return False
        self.answered_at = asyncio.get_running_loop().time()
        if self.port and not self.rtp.closed:
            self.rtp.keep_alive()  # media from now to the end: SBCs hang up on silent calls
        return True

    def reject(self, status: int, reason: str, retry_after: int | None) -> None:
        if self.endpoint.core.call_state(self.handle) is not SipCallState.INCOMING:
            return  # answered, cancelled or already refused
        if status == 503:
            retry_after = retry_after or self.gateway.settings.retry_after_s
        self.endpoint.reject(self.handle, status, retry_after=retry_after)

    def send_bye(self) -> None:
        self.endpoint.hangup(self.handle)

    def refer(self, target: str) -> bool:
        if not self.endpoint.refer(self.handle, target):
            return False
        log.info("call %s: transferring", self.handle.call_id[:8])
        return True

    def abandon_transfer(self) -> None:
        self.endpoint.abandon_transfer(self.handle)

    async def play(self, pcm: bytes) -> bool:
        result = await self.rtp.play(pcm)
        return bool(getattr(result, "completed", True))

    def stop_playback(self) -> None:
        self.rtp.stop_playback()

    async def end_media(self) -> None:
        self.rtp.close()  # delivers what the jitter buffer still holds

    def close(self) -> None:
        self.rtp.close()

    # RTP callbacks: audio straight to the call's audio, the rest to the runner.

    def _on_audio(self, frame: AudioFrame) -> None:
        if self.audio is not None and self.answered_at is not None:
            if not self._media_seen and not frame.concealed:
                self._media_seen = True
                if self.runner is not None:
                    where = self.rtp.remote_address
                    self.runner.post(m.MediaStarted(f"{where[0]}:{where[1]}" if where else ""))
            self.audio.push(frame.pcm)

    def _on_sent(self, frame: AudioFrame) -> None:
        if self.audio is not None and self.answered_at is not None:
            at = frame.time - self.answered_at - len(frame.pcm) / 2 / SAMPLE_RATE
            self.audio.record_sent(frame.pcm, at)

    def _on_dtmf(self, digit: DtmfDigit) -> None:
        if self.runner is not None:
            self.runner.post(m.Dtmf(digit.digit, "rfc4733"))

    def _on_timeout(self) -> None:
        if self.runner is not None:
            log.info("call %s: no RTP for %.0f s, hanging up", self.runner.call_id[:8],
                     self.gateway.settings.rtp_timeout_s)
            self.runner.post(m.HungUp("rtp_timeout", by_caller=False))


class SipGateway:
    """The SIP side of the service: one per process, started in the app's cleanup context."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings.sip
        s = self.settings
        self.admission = AdmissionControl(s, services.settings.asr.max_backlog_s)
        self.policy = AudioPolicy()
        self.host = advertised_host(s)
        self.tls = tls_context(s, services.settings.data_dir, self.host)
        self.tls_port: int | None = None  # bound at start
        # The UAS core with outbound calls (回访 callbacks dial through this socket too).
        self.core = UserAgent(
            UasConfig(local_host=self.host, local_port=s.port,
                      timers=TimerConfig.from_ms(s.t1_ms, s.t2_ms, s.t4_ms), audio=self.policy,
                      tls_port=s.tls_port if self.tls is not None else None),
            screen=self._screen,
            secure_source=self.admission.source_secure if s.secure_networks else None,
        )
        # The allowlist is applied to TCP at accept, before a byte is read; caps and
        # timeouts keep a flood of connections from taking the process's descriptors.
        self.endpoint = SipEndpoint(
            self.core, self._on_event, accept=self.admission.source_allowed,
            limits=TcpLimits(max_connections=s.tcp_max_connections,
                             max_per_source=s.tcp_max_per_source,
                             idle_timeout_s=s.tcp_idle_timeout_s,
                             header_timeout_s=s.tcp_header_timeout_s),
            tls_client=client_context(s.tls_ca_file) if self.tls is not None else None)
        self.ports = PortAllocator(s.rtp_port_min, s.rtp_port_max)
        # MD5's challenge first: Debian's sipp 3.6 (and other MD5-only UACs) answer the
        # first challenge and give up on SHA-256 instead of skipping to the one they know.
        self.auth = (
            DigestAuthenticator(s.auth_realm, secrets.token_bytes(32),
                                algorithms=("MD5", "SHA-256"))
            if s.auth_username else None
        )  # fmt: skip
        self.calls: dict[CallHandle, CallRunner] = {}
        self.menus = MenuSource(services.settings.ivr, services.store)
        self.menu = self.menus.configured
        self._rendering: asyncio.Future[None] | None = None
        self.prompts = PromptLibrary(services.settings.prompt_dir)
        self.refused = 0
        self.completed = 0
        self.draining = False
        # Our own INVITEs' progress and outcome go to the dialer (voice_gateway.callbacks).
        self.on_outbound: Callable[[SipEvent], None] | None = None
        self._loop = asyncio.get_running_loop()

    async def start(self) -> tuple[str, int]:
        addr = await self.endpoint.start_udp(self.settings.host, self.settings.port)
        await self.endpoint.start_tcp(self.settings.host, addr[1])
        if addr[1] != self.core.config.local_port:  # port 0: the system chose one
            self.core.config = dataclasses.replace(self.core.config, local_port=addr[1])
        log.info("SIP listening on %s:%d (UDP, TCP)", addr[0], addr[1])
        if self.tls is not None:
            tls_addr = await self.endpoint.start_tls(self.settings.host, self.settings.tls_port,
                                                     self.tls)  # fmt: skip
            self.core.config = dataclasses.replace(self.core.config, tls_port=tls_addr[1])
            self.tls_port = tls_addr[1]
            log.info("SIP over TLS listening on %s:%d", tls_addr[0], tls_addr[1])
        if self.menu is not None:
            self._rendering = asyncio.ensure_future(
                render_prompts(self.services.settings, self.menu))
        return addr

    async def close(self) -> None:
        """Stop taking calls; hang up and draft every call in progress."""
        self.draining = True
        if self._rendering is not None:
            self._rendering.cancel()  # the thread finishes its prompt; nobody waits for it
        await hang_up_all(self.calls.values())
        await self.endpoint.close()

    # --- admission -----------------------------------------------------------------------

    def backlog_s(self) -> float:
        pool = self.services.pool
        return pool.backlog_seconds if pool is not None else 0.0

    def _screen(self, request: Request, source: tuple[str, int]) -> Refusal | None:
        host = source[0]
        if request.method == "INVITE" and request.to_tag is None:
            decision = self.admission.check_new_call(
                host, len(self.calls), self._loop.time(), asr_backlog_s=self.backlog_s(),
                draining=self.draining)
        else:
            decision = self.admission.check_request(host)
            if decision.allowed and self.draining and request.method == "OPTIONS" \
                    and request.to_tag is None:  # Kamailio's probe: take this node out
                decision = Decision(False, 503, "draining", self.settings.retry_after_s,
                                    "draining")
        if decision.allowed:
            return None
        self.refused += 1
        metrics.refused(decision.code)
        log.warning("refused %s from %s: %d %s", request.method, host, decision.status,
                    decision.reason)
        return Refusal(decision.status, retry_after=decision.retry_after)

    def _authorised(self, ev: IncomingCall) -> bool:
        if self.auth is None:
            return True
        s = self.settings
        now = self._loop.time()  # monotonic: nonces are only ever checked by this process
        result = self.auth.verify(
            ev.request, lambda user: s.auth_password if user == s.auth_username else None, now)
        if result is AuthResult.OK:
            return True
        if ev.request.headers.fields("Authorization"):
            log.info("INVITE from %s: credentials %s, challenged again", ev.source[0],
                     result.value)
        self.endpoint.reject(ev.call, 401, headers=self.auth.challenges(
            now, stale=result is AuthResult.STALE))
        return False

    # --- events from the SIP core (synchronous, on the loop) ------------------------------

    def _on_event(self, ev: SipEvent) -> None:
        if isinstance(ev, IncomingCall):
            try:
                self._offer(ev)
            except Exception:
                log.exception("INVITE from %s failed before its call started", ev.source[0])
                self.calls.pop(ev.call, None)
                if self.core.call_state(ev.call) is SipCallState.INCOMING:
                    self.endpoint.reject(ev.call, 500)
            return
        if isinstance(ev, OutboundProgress | OutboundAnswered | OutboundFailed):
            if self.on_outbound is not None:
                self.on_outbound(ev)
            return
        runner = self.calls.get(getattr(ev, "call", None))  # type: ignore[arg-type]
        if runner is None:
            return
        transport = runner.transport
        assert isinstance(transport, SipCallTransport)
        if isinstance(ev, CallCancelled):
            runner.post(m.HungUp("cancelled"))
        elif isinstance(ev, CallEnded):
            runner.post(m.HungUp(ev.reason.value))
        elif isinstance(ev, Dtmf):
            runner.post(m.Dtmf(ev.digit, "info"))
        elif isinstance(ev, TransferProgress):
            runner.post(m.TransferUpdate(ev.status, ev.done, ev.ok))
        elif isinstance(ev, HoldChanged | MediaChanged | MediaAnswered):
            transport.apply_media(ev.media)
            if isinstance(ev, HoldChanged):
                timeout = None if ev.on_hold else self.settings.rtp_timeout_s
                transport.rtp.set_inactivity_timeout(timeout)
        elif isinstance(ev, MediaAnswerFailed):
            # Our offer went unanswered: up, but without media. RFC 3261 §13.2.1 leaves
            # only a BYE.
            log.info("call %s: %s, hanging up", runner.call_id[:8], ev.reason)
            runner.post(m.HungUp("no_sdp_answer", by_caller=False))

    def _offer(self, ev: IncomingCall) -> None:
        """A new INVITE: its runner is registered now, before anything can await."""
        if not self._authorised(ev):
            return
        session_id = str(secrets.randbits(31))
        policy = ev.policy  # SRTP allowed over TLS, required from sip.secure_networks
        if ev.offer is None:
            # Delayed offer (Cisco CUBE/CUCM): our offer goes in the 200 and the answer
            # comes in the ACK (MediaAnswered, or MediaAnswerFailed and a BYE). It is SRTP
            # only where SRTP is required: one m= line cannot offer both.
            key = new_master_key(policy.srtp_suites[0]) if policy.srtp == "require" else None
            sdp = build_offer(policy, self.host, _PLACEHOLDER_PORT, session_id=session_id,
                              srtp_key=key)  # fmt: skip
            media = offered_audio(policy)
        else:
            try:
                sdp, media = answer_offer(ev.offer, policy, self.host, _PLACEHOLDER_PORT,
                                          session_id=session_id)
            except NoCommonCodec:
                self.endpoint.reject(ev.call, 488)
                return
        caller = parse_caller_id(caller_user(ev.request))
        services = self.services
        assert services.pool is not None
        call_id = new_id()
        plan = m.CallPlan(
            caller.number, None, ring_s=self.settings.answer_delay_ms / 1000,
            retry_after_s=self.settings.retry_after_s,
            grammar_choices=services.pool.spec.kind == "vosk",
            decode_answers=services.settings.asr.question_decoding,
            second_pass=services.settings.asr.second_pass,
            transfer_target=lambda target: transfer_target(target, services.settings.ivr))
        transport = SipCallTransport(self, ev.call, ev.source, sdp, media)
        audio = CallAudio.open(services.settings, services.pool, call_id, SAMPLE_RATE,
                               record_outbound=True)
        runner = CallRunner(services, m.CallMachine(plan), transport, audio, call_id=call_id,
                            source="sip", caller_number=caller.number, caller_raw=caller.raw,
                            prompts=self.prompts, on_done=self._call_done,
                            setup_deadline_s=self.settings.setup_deadline_s,
                            menu_source=self.menus.current)
        transport.audio, transport.runner = audio, runner
        self.calls[ev.call] = runner
        runner.start(m.Offered())
        log.info("call %s offered from %s over %s by %s (%s%s)", call_id[:8], ev.source[0],
                 ev.transport.value, mask_number(caller.number),
                 media.codec if ev.offer else "delayed offer",
                 ", SRTP" if media.srtp or policy.srtp == "require" else "")

    def _call_done(self, runner: CallRunner) -> None:
        transport = runner.transport
        assert isinstance(transport, SipCallTransport)
        self.calls.pop(transport.handle, None)
        if runner.machine.answered:
            self.completed += 1
        elif runner.machine.end_reason == "storage_unavailable":
            self.refused += 1
            metrics.refused("storage")
            log.error("call %s from %s refused with 503: storage unavailable",
                      runner.call_id[:8], transport.source[0])
        stats = transport.rtp.stats
        metrics.RTP_LOST.inc(stats.jitter.lost)  # per call, never per packet
        garbage = (stats.too_short + stats.bad_version + stats.malformed
                   + stats.unexpected_payload_type + stats.foreign_source + stats.srtp_rejected)
        log.info("call %s ended (%s): %d RTP packets, %d garbage datagrams dropped",
                 runner.call_id[:8], runner.machine.end_reason or "-", stats.rtp_accepted,
                 garbage)

