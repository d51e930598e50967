"""Calls from SIP trunks: admission, SDP answer, RTP media, and a call session per call.

How it works. The sans-IO core (``voice_gateway.sip``) runs over UDP and TCP through
:class:`SipEndpoint`; its request screen applies admission control before the core sees a
new request. An ``IncomingCall`` gets 180, an RTP port and an SDP answer; after a short
ring (the window in which a CANCEL gets 487) it is answered and a :class:`CallSession`
takes the caller's audio: recording on disk and recognition as it arrives. The system's
own audio (prompts) is recorded beside it, time-aligned, in ``<call>.out.wav``.

Each answered call walks the configured IVR menu (:mod:`voice_gateway.calls.ivr_call`):
prompts over RTP, keys from RFC 4733 or INFO, spoken choices from the recognizer. With the
IVR off, or a menu that fails validation, calls go straight to intake. A call ends by the
caller's BYE, by our BYE (after intake, or after RTP inactivity), or at shutdown; each way
the session is finished exactly once and the draft stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import socket
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from asr.engines.base import DecodeRequest, DecodeResult
from asr.stream import TranscriptEvent
from config import IvrSettings, SipSettings
from ivr import Menu, load_menu, parse_menu, validate
from ivr.errors import MenuError, PromptError
from ivr.events import Transfer
from ivr.loader import load_catalogue
from ivr.prompts import render_missing
from storage import Event, RecordingWriter
from storage.menus import DEFAULT_MENU_ID, MenuVersions
from voice_gateway.calls.admission import AdmissionControl
from voice_gateway.calls.ivr_call import ChoiceDecoder, IvrCall, PromptLibrary
from voice_gateway.calls.session import CallSession, mask_number
from voice_gateway.rtp import AudioFrame, DtmfDigit, PortAllocator, RtpEndpoint, RtpSettings
from voice_gateway.rtp.g711 import codec_for_name
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
    OptionsPing,
    Refusal,
    TimerConfig,
    TransferProgress,
    UasConfig,
    UserAgentServer,
    answer_offer,
)
from voice_gateway.sip import (
    Event as SipEvent,
)
from voice_gateway.sip.auth import AuthResult, DigestAuthenticator
from voice_gateway.sip.dialog import CallState as SipCallState
from voice_gateway.sip.message import Request
from voice_gateway.sip.transport import SipEndpoint

log = logging.getLogger(__name__)
SAMPLE_RATE = 8000
MENU_RECHECK_S = 5.0


def advertised_host(settings: SipSettings) -> str:
    """The address put in Contact and SDP: configured, else the listen address."""
    if settings.media_address:
        return settings.media_address
    if settings.host in ("0.0.0.0", "::", ""):
        return socket.gethostbyname(socket.gethostname())
    return settings.host


def load_valid_menu(settings: IvrSettings) -> Menu | None:
    """The configured menu if IVR is on and the menu validates; else None (intake only)."""
    if not settings.enabled:
        return None
    try:
        menu = load_menu(settings.menu)
    except MenuError as exc:
        log.error("IVR menu %s unusable (%s): calls go straight to intake", settings.menu, exc)
        return None
    if errors := validate(menu):
        log.error("IVR menu %s fails validation (%s): calls go straight to intake",
                  settings.menu, "; ".join(str(e) for e in errors[:3]))
        return None
    return menu


def _published_menu(found: tuple[dict[str, object], int]) -> Menu | None:
    data, version = found
    menu = dataclasses.replace(parse_menu(data, load_catalogue()), version=version)
    if errors := validate(menu):
        log.error("published menu version %d fails validation (%s)", version, errors[0])
        return None
    return menu


def transfer_target(target: str, settings: IvrSettings) -> str | None:
    """Where a ``queue``/``transfer`` node's caller is REFERred: the node's own target when
    it is a SIP URI, the queue's URI when ``ivr.queues`` names it, else the configured
    agent URI; None when agents are not reachable."""
    if target.lower().startswith(("sip:", "sips:")):
        return target
    return settings.queues.get(target) or settings.agent_uri or None


def caller_number(request: Request) -> str | None:
    """The caller's number: P-Asserted-Identity if the trunk sends one, else From."""
    from voice_gateway.sip.headers import NameAddress

    for value in request.headers.fields("P-Asserted-Identity"):
        with contextlib.suppress(ValueError):
            user = NameAddress.parse(value).uri.user
            if user:
                return user
    try:
        return request.from_.uri.user
    except ValueError:
        return None


@dataclass
class SipCall:
    """One answered (or answering) call: its media endpoint and its session."""

    handle: CallHandle
    caller: str | None
    source: tuple[str, int]
    rtp: RtpEndpoint
    session: CallSession | None = None
    outbound: RecordingWriter | None = None
    started_at: float = 0.0
    finishing: asyncio.Task[None] | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ivr: IvrCall | None = None
    transferred: bool = False
    last_write: asyncio.Task[None] | None = None  # this call's events are stored in order

    def record_sent(self, frame: AudioFrame) -> None:
        """Keep the system's side time-aligned with the caller's: silence until now."""
        if self.outbound is None:
            return
        due = int((frame.time - self.started_at) * SAMPLE_RATE) - len(frame.pcm) // 2
        gap = due - int(self.outbound.duration * SAMPLE_RATE)
        if gap > 0:
            self.outbound.write(b"\x00\x00" * gap)
        self.outbound.write(frame.pcm)


class SipGateway:
    """The SIP side of the service: one per process, started in the app's cleanup context."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings.sip
        s = self.settings
        self.admission = AdmissionControl(s)
        self.policy = AudioPolicy()
        self.host = advertised_host(s)
        self.core = UserAgentServer(
            UasConfig(local_host=self.host, local_port=s.port,
                      timers=TimerConfig.from_ms(s.t1_ms, s.t2_ms, s.t4_ms), audio=self.policy),
            screen=self._screen,
        )
        self.endpoint = SipEndpoint(self.core, self._on_event)
        self.ports = PortAllocator(s.rtp_port_min, s.rtp_port_max)
        self.auth = (
            DigestAuthenticator(s.auth_realm, secrets.token_bytes(32)) if s.auth_username else None
        )
        self.calls: dict[CallHandle, SipCall] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # The configured menu file; a version published by an admin replaces it (below).
        self.menu = load_valid_menu(services.settings.ivr)
        self._menus = MenuVersions(services.store.engine)
        self._published: tuple[float, Menu | None] = (-1e9, None)
        self._rendering: asyncio.Future[None] | None = None
        self.prompts = PromptLibrary(services.settings.prompt_dir)
        self.refused = 0
        self.completed = 0
        self._loop = asyncio.get_running_loop()

    async def start(self) -> tuple[str, int]:
        addr = await self.endpoint.start_udp(self.settings.host, self.settings.port)
        await self.endpoint.start_tcp(self.settings.host, addr[1])
        if addr[1] != self.core.config.local_port:  # port 0: the system chose one
            self.core.config = dataclasses.replace(self.core.config, local_port=addr[1])
        log.info("SIP listening on %s:%d (UDP, TCP)", addr[0], addr[1])
        if self.menu is not None:
            self._rendering = asyncio.ensure_future(self._render_prompts(self.menu))
        return addr

    async def _render_prompts(self, menu: Menu) -> None:
        """Speak every prompt that has no audio yet with the configured offline TTS."""
        settings = self.services.settings
        try:
            done = await asyncio.to_thread(render_missing, menu, settings.prompt_dir, settings.ivr)
        except (PromptError, OSError) as exc:
            log.warning("prompts not rendered (%s): calls skip prompts without audio", exc)
            return
        if done:
            log.info("rendered %d prompt(s) into %s", len(done), settings.prompt_dir)

    async def close(self) -> None:
        """Stop taking calls; hang up and draft every call in progress."""
        if self._rendering is not None:
            self._rendering.cancel()  # the thread finishes its prompt; nobody waits for it
        for call in list(self.calls.values()):
            with contextlib.suppress(Exception):
                self.endpoint.hangup(call.handle)
            self._finish(call, "shutdown")
        pending = [c.finishing for c in self.calls.values() if c.finishing] + list(self._tasks)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await self.endpoint.close()

    # --- admission -----------------------------------------------------------------------

    def _screen(self, request: Request, source: tuple[str, int]) -> Refusal | None:
        host = source[0]
        if request.method == "INVITE" and request.to_tag is None:
            decision = self.admission.check_new_call(host, len(self.calls), self._loop.time())
        else:
            decision = self.admission.check_request(host)
        if decision.allowed:
            return None
        self.refused += 1
        log.warning("refused %s from %s: %d %s", request.method, host, decision.status,
                    decision.reason)
        return Refusal(decision.status, retry_after=decision.retry_after)

    def _authorised(self, ev: IncomingCall) -> bool:
        if self.auth is None:
            return True
        s = self.settings
        result = self.auth.verify(
            ev.request, lambda user: s.auth_password if user == s.auth_username else None,
            self._loop.time() + 1_700_000_000,
        )
        if result is AuthResult.OK:
            return True
        self.endpoint.reject(ev.call, 401, headers=[self.auth.challenge(
            self._loop.time() + 1_700_000_000, stale=result is AuthResult.STALE)])
        return False

    # --- events from the SIP core (synchronous, on the loop) ------------------------------

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("call task failed", exc_info=exc)

    def _on_event(self, ev: SipEvent) -> None:
        if isinstance(ev, IncomingCall):
            self._spawn(self._accept(ev))
            return
        if isinstance(ev, OptionsPing):
            return  # already answered 200 by the core
        call = self.calls.get(ev.call)
        if call is None:
            return
        if isinstance(ev, CallCancelled):
            del self.calls[ev.call]
            call.rtp.close()
        elif isinstance(ev, CallEnded):
            self._finish(call, ev.reason.value)
        elif isinstance(ev, Dtmf):
            self._on_digit(call, ev.digit, "info")
        elif isinstance(ev, TransferProgress):
            self._on_transfer(call, ev)
        elif isinstance(ev, HoldChanged | MediaChanged):
            self._apply_media(call, ev.media)
            if isinstance(ev, HoldChanged):
                timeout = None if ev.on_hold else self.settings.rtp_timeout_s
                call.rtp.set_inactivity_timeout(timeout)

    def _apply_media(self, call: SipCall, media: NegotiatedAudio) -> None:
        if media.remote_port and media.remote_host not in ("0.0.0.0", "::"):
            call.rtp.set_remote((media.remote_host, media.remote_port),
                                expected_host=call.source[0])

    # --- a call's life ------------------------------------------------------------------

    async def _accept(self, ev: IncomingCall) -> None:
        if not self._authorised(ev):
            return
        if ev.offer is None:
            self.endpoint.reject(ev.call, 488, reason="SDP offer required")
            return
        caller = caller_number(ev.request)
        rtp_settings_pending: list[SipCall] = []

        def on_audio(frame: AudioFrame) -> None:
            call = rtp_settings_pending[0]
            if call.session is not None:
                call.session.push(frame.pcm)

        def on_dtmf(digit: DtmfDigit) -> None:
            self._on_digit(rtp_settings_pending[0], digit.digit, "rfc4733")

        def on_timeout() -> None:
            call = rtp_settings_pending[0]
            log.info("call %s: no RTP for %.0f s, hanging up", _short(call),
                     self.settings.rtp_timeout_s)
            if not self.endpoint.hangup(call.handle):
                self._finish(call, "rtp_timeout")

        try:
            # Negotiate before opening a socket: a 488 needs no RTP port.
            _sdp, media = answer_offer(ev.offer, self.policy, self.host, 9, session_id="0")
        except NoCommonCodec:
            self.endpoint.reject(ev.call, 488)
            return
        self.endpoint.ringing(ev.call)
        rtp = RtpEndpoint(
            RtpSettings(codec=codec_for_name(media.codec),
                        dtmf_payload_type=media.telephone_event_pt,
                        inactivity_timeout=self.settings.rtp_timeout_s),
            on_audio=on_audio, on_dtmf=on_dtmf, on_timeout=on_timeout,
            on_sent_audio=lambda f: rtp_settings_pending[0].record_sent(f),
        )
        call = SipCall(ev.call, caller, ev.source, rtp)
        rtp_settings_pending.append(call)
        self.calls[ev.call] = call
        try:
            bind_host = self.host if self.settings.host in ("0.0.0.0", "::") else self.settings.host
            port = await rtp.bind(bind_host, self.ports)
            sdp, media = answer_offer(ev.offer, self.policy, self.host, port,
                                      session_id=str(secrets.randbits(31)))
        except Exception:
            self.calls.pop(ev.call, None)
            rtp.close()
            self.endpoint.reject(ev.call, 503, retry_after=self.settings.retry_after_s)
            raise
        self._apply_media(call, media)
        await asyncio.sleep(self.settings.answer_delay_ms / 1000)
        if ev.call not in self.calls:  # cancelled while ringing
            return
        session = CallSession(self.services, source="sip", caller_number=caller,
                              input_rate=SAMPLE_RATE)
        try:
            # Stored before it is answered: a call we accept is one storage knows about.
            # If storage cannot take it (overload, database down), the trunk gets a 503
            # and can route the call elsewhere, instead of a 200 for a call we would lose.
            await session.start()
        except (SQLAlchemyError, OSError) as exc:
            log.error("call from %s refused with 503: storage unavailable (%s)",
                      ev.source[0], type(exc).__name__)
            self.refused += 1
            self.calls.pop(ev.call, None)
            await session.abort()
            rtp.close()
            if self.endpoint.core.call_state(ev.call) is SipCallState.INCOMING:  # not cancelled
                self.endpoint.reject(ev.call, 503, retry_after=self.settings.retry_after_s)
            return
        call.outbound = RecordingWriter(session.recording.path.with_suffix(".out.wav"),
                                        SAMPLE_RATE)
        call.session = session
        call.started_at = self._loop.time()
        if ev.call not in self.calls:  # cancelled while it was being stored
            call.outbound.close()
            rtp.close()
            await session.finish("cancelled")  # drafted empty: nothing stored is left open
            return
        if not self.endpoint.answer(ev.call, sdp):
            self.calls.pop(ev.call, None)
            call.outbound.close()
            rtp.close()
            await session.finish("not-answered")
            return
        if (menu := await self._menu_for_new_call()) is not None:
            self._start_ivr(call, session, menu)
        call.answered.set()
        log.info("call %s answered: %s from %s, RTP port %d, %s", _short(call),
                 mask_number(caller), ev.source[0], port, media.codec)

    async def _menu_for_new_call(self) -> Menu | None:
        """The published version of the menu if there is one, else the configured file.

        Looked up at most every few seconds; a call keeps the version it started with.
        """
        if self.menu is None:
            return None  # IVR off, or the configured menu is unusable
        checked_at, published = self._published
        now = self._loop.time()
        if now - checked_at >= MENU_RECHECK_S:
            try:
                found = await self._menus.published_menu(DEFAULT_MENU_ID)
                published = _published_menu(found) if found is not None else None
            except (MenuError, SQLAlchemyError) as exc:
                log.error("published menu unusable (%s); using %s", exc, self.menu.id)
                published = None
            self._published = (now, published)
        return published or self.menu

    def _start_ivr(self, call: SipCall, session: CallSession, menu: Menu) -> None:
        ivr = IvrCall(menu, call_id=session.call_id, caller_number=call.caller, media=call.rtp,
                      prompts=self.prompts, store=self.services.store,
                      end_call=lambda: self._hang_up(call), on_intake=session.apply_intake,
                      transfer=lambda action: self._transfer(call, action),
                      choice_decoder=self._choice_decoder(),
                      abandon_transfer=lambda: self.endpoint.abandon_transfer(call.handle))

        def on_transcript(ev: TranscriptEvent) -> None:
            if ev.kind == "speech_started":
                ivr.speech_started()
            elif ev.kind == "final":
                ivr.final(ev.text, ev.confidence, ev.pcm)

        session.listeners.append(on_transcript)
        call.ivr = ivr
        ivr.start()

    def _choice_decoder(self) -> ChoiceDecoder | None:
        """Vosk takes a runtime grammar: menus get their words decoded under it."""
        pool = self.services.pool
        if pool is None or pool.spec.kind != "vosk":
            return None  # Whisper takes no grammar; its text is matched by pinyin

        async def decode(pcm: bytes, phrases: tuple[str, ...]) -> DecodeResult:
            return await pool.decode(DecodeRequest(pcm, grammar=phrases))

        return decode

    def _transfer(self, call: SipCall, action: Transfer) -> bool:
        """Blind-transfer the caller to agents by REFER; False if there is nowhere to go."""
        target = transfer_target(action.target, self.services.settings.ivr)
        if target is None:
            log.info("call %s: no agent URI configured for %s %r; going on in the menu",
                     _short(call), action.mode, action.target)
            return False
        if not self.endpoint.refer(call.handle, target):
            return False
        log.info("call %s: transferring to %s", _short(call), target)
        self._record(call, "transfer", {"node_id": action.node_id, "target": target,
                                        "status": None, "done": False})
        return True

    def _on_transfer(self, call: SipCall, ev: TransferProgress) -> None:
        if ev.done or ev.status == 202:
            self._record(call, "transfer", {"target": None, "status": ev.status,
                                            "done": ev.done})
        if not ev.done:
            return
        if ev.ok:
            call.transferred = True
        if call.ivr is not None:
            call.ivr.transfer_result(ev.ok)
        if ev.ok:
            # RFC 5589: the transferee now talks to the agent; our leg is ended by us.
            log.info("call %s: transferred", _short(call))
            self._hang_up(call)
        else:
            log.info("call %s: transfer failed (%s); back to the menu", _short(call),
                     ev.status if ev.status is not None else "no answer")

    def _record(self, call: SipCall, kind: str, payload: dict[str, object]) -> None:
        """Store an event of the call after the call's previous one (same order as here)."""
        if call.session is None:
            return
        event, previous = Event(kind, call.session.call_id, payload), call.last_write

        async def write() -> None:
            if previous is not None:
                with contextlib.suppress(Exception):
                    await previous
            await self.services.store.record_event(event)

        task = asyncio.ensure_future(write())
        call.last_write = task
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _hang_up(self, call: SipCall) -> None:
        """The service ends the call (after intake): BYE, then the call is drafted."""
        if not self.endpoint.hangup(call.handle):
            self._finish(call, "ivr-hangup")

    def _on_digit(self, call: SipCall, digit: str, via: str) -> None:
        if call.ivr is not None:
            call.ivr.dtmf(digit)
        if call.session is None:
            return
        call.session.dtmf.append(digit)
        self._record(call, "dtmf", {"digit": digit, "via": via})

    def _finish(self, call: SipCall, reason: str) -> None:
        if call.finishing is None:
            call.finishing = asyncio.ensure_future(self._finish_call(call, reason))
            self._tasks.add(call.finishing)
            call.finishing.add_done_callback(self._task_done)

    async def _finish_call(self, call: SipCall, reason: str) -> None:
        try:
            if call.ivr is not None:
                if reason != "local-bye":
                    call.ivr.caller_hung_up()
                await call.ivr.close()
            call.rtp.close()  # delivers what the jitter buffer still holds
            if call.outbound is not None:
                call.outbound.close()
            if call.session is not None:
                await call.answered.wait()
                stats = call.rtp.stats
                garbage = (stats.too_short + stats.bad_version + stats.malformed
                           + stats.unexpected_payload_type + stats.foreign_source)
                log.info("call %s ended (%s): %d RTP packets, %d garbage datagrams dropped",
                         _short(call), reason, stats.rtp_accepted, garbage)
                await call.session.finish("transferred" if call.transferred else reason)
                self.completed += 1
        finally:
            self.calls.pop(call.handle, None)


def _short(call: SipCall) -> str:
    return call.session.call_id[:8] if call.session else call.handle.call_id[:8]
