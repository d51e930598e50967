"""Calls from browsers: WHIP offers turned into call runners, like INVITEs from a trunk.

How it works. :meth:`WebRtcGateway.admit` applies the same admission as SIP (concurrent
calls, ASR backlog, draining, Retry-After) with an open allowlist and the ``webrtc.*`` rate
limit per address; calls being negotiated count as calls. :meth:`offer` negotiates the
offer with aiortc (audio only: Opus, PCMU, PCMA; a data channel if offered), gathers the
answer's candidates (no trickle), and starts a :class:`CallRunner` with a
:class:`WebRtcCallTransport`, registered at once under an unguessable session id (the
WHIP resource). The HTTP handler then waits for the machine to answer or reject. Peer
connections are closed in the background and awaited at shutdown.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp
from aiortc.exceptions import InvalidStateError, OperationError

from config.settings import WebRtcSettings
from storage.repository import new_id
from voice_gateway.calls import machine as m
from voice_gateway.calls.admission import AdmissionControl, Decision
from voice_gateway.calls.audio import CallAudio
from voice_gateway.calls.lifecycle import CLOSE_TIMEOUT_S, hang_up_all, render_prompts
from voice_gateway.calls.menus import MenuSource
from voice_gateway.calls.prompts import PromptLibrary
from voice_gateway.calls.runner import CallRunner
from voice_gateway.services import Services
from voice_gateway.webrtc import rfc4733
from voice_gateway.webrtc.media import RATE, PromptTrack
from voice_gateway.webrtc.transport import WebRtcCallTransport

log = logging.getLogger(__name__)

CODECS = ("audio/opus", "audio/PCMU", "audio/PCMA")
PREFERRED = (*CODECS, rfc4733.MIME)  # the first one we send, the events beside it
MAX_OFFER_BYTES = 64 * 1024


class OfferError(Exception):
    """An offer that cannot be taken; ``status`` is the HTTP answer (400 or 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def turn_credentials(settings: WebRtcSettings, now: float) -> tuple[str, str] | None:
    """Username and password for the TURN servers: time-limited ones made from
    ``turn_secret`` (coturn's use-auth-secret: ``<expiry>:<user>`` and its HMAC-SHA1 in
    base64), else the static ones; None without any."""
    if settings.turn_secret:
        username = f"{int(now) + settings.turn_ttl_s}:voice-intake"
        digest = hmac.new(settings.turn_secret.encode(), username.encode(), hashlib.sha1)
        return username, base64.b64encode(digest.digest()).decode()
    if settings.turn_username:
        return settings.turn_username, settings.turn_credential
    return None


def is_turn(url: str) -> bool:
    return url.startswith(("turn:", "turns:"))


def ice_servers(settings: WebRtcSettings) -> list[RTCIceServer]:
    """The configured STUN/TURN servers, TURN ones with credentials made now."""
    credentials = turn_credentials(settings, time.time())
    servers = []
    for url in settings.ice_servers:
        if is_turn(url) and credentials is not None:
            servers.append(RTCIceServer(url, *credentials))
        else:
            servers.append(RTCIceServer(url))
    return servers


def check_offer(text: str) -> None:
    """Raise :class:`OfferError` unless ``text`` is an SDP offer with audio we can take."""
    if not text.startswith("v=0"):
        raise OfferError(400, "not an SDP offer")
    try:
        parsed = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser asserts and iterates as it goes
        raise OfferError(400, f"SDP does not parse: {type(exc).__name__} {exc}") from None
    kinds = [media.kind for media in parsed.media]
    if not kinds:
        raise OfferError(400, "SDP has no media")
    if "video" in kinds:
        raise OfferError(422, "audio only: remove the video track")
    audio = [media for media in parsed.media if media.kind == "audio"]
    if len(audio) != 1:
        raise OfferError(422, "exactly one audio track is needed")
    if audio[0].direction not in ("sendrecv", "sendonly"):
        raise OfferError(422, "the audio track must send (sendrecv or sendonly)")
    names = {c.mimeType.lower() for c in audio[0].rtp.codecs}
    if not names & {c.lower() for c in CODECS}:
        raise OfferError(422, "no common audio codec: offer Opus, PCMU or PCMA")


class WebRtcGateway:
    """The WebRTC side of the service: one per process, started in the app's cleanup
    context. ``other_calls`` counts the SIP calls in progress (for ``sip.max_calls``)."""

    def __init__(self, services: Services,
                 other_calls: Callable[[], int] = lambda: 0) -> None:
        rfc4733.register()
        self.services = services
        self.settings = services.settings.webrtc
        sip = services.settings.sip
        self.sip = sip
        self.other_calls = other_calls
        open_to_all = dataclasses.replace(
            sip, allowed_networks=("0.0.0.0/0", "::/0"), max_calls=self.settings.max_calls,
            rate_limit_per_s=self.settings.rate_limit_per_s,
            rate_limit_burst=self.settings.rate_limit_burst)
        self.admission = AdmissionControl(open_to_all, services.settings.asr.max_backlog_s)
        # The page: its own bucket, so loading /call does not spend the caller's offer.
        self.page_limit = AdmissionControl(open_to_all)
        self.calls: dict[str, CallRunner] = {}
        self.negotiating = 0
        self.menus = MenuSource(services.settings.ivr, services.store)
        self.prompts = PromptLibrary(services.settings.prompt_dir)
        self.draining = False
        self.refused = 0
        self.completed = 0
        self._closing: set[asyncio.Task[None]] = set()
        self._rendering: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()

    def start(self) -> None:
        """Speak the prompts that have no audio yet, unless the SIP gateway does it."""
        if self.menus.configured is not None and not self.services.settings.sip.enabled:
            self._rendering = asyncio.ensure_future(
                render_prompts(self.services.settings, self.menus.configured))

    # --- admission -----------------------------------------------------------------------

    def admit(self, host: str) -> Decision:
        """May ``host`` start a call now? (429 for the rate limit, 503 + Retry-After.)"""
        pool = self.services.pool
        backlog = pool.backlog_seconds if pool is not None else 0.0
        ours = len(self.calls) + self.negotiating
        decision = self.admission.check_new_call(
            host, ours, self._loop.time(), asr_backlog_s=backlog, draining=self.draining)
        if decision.allowed and ours + self.other_calls() >= self.sip.max_calls:
            decision = Decision(False, 503, "at sip.max_calls (SIP and WebRTC calls)",
                                self.sip.retry_after_s)
        if decision.allowed:
            return decision
        self.refused += 1
        if decision.status == 403:  # the only 403 with an open allowlist: too many offers
            retry = max(1, round(1 / self.settings.rate_limit_per_s))
            decision = Decision(False, 429, decision.reason, retry)
        log.warning("refused a WebRTC offer from %s: %d %s", host, decision.status,
                    decision.reason)
        return decision

    def admit_page(self, host: str) -> bool:
        return self.page_limit.check_new_call(host, 0, self._loop.time()).allowed

    # --- offers --------------------------------------------------------------------------

    async def offer(self, sdp: str, host: str) -> WebRtcCallTransport:
        """Negotiate ``sdp`` and start its call; raises :class:`OfferError`."""
        check_offer(sdp)
        # Made per call: time-limited TURN credentials must be fresh.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers(self.settings)))
        track = PromptTrack()
        self.negotiating += 1
        try:
            transceiver = pc.addTransceiver(track, direction="sendrecv")
            audio_codecs = RTCRtpSender.getCapabilities("audio").codecs
            transceiver.setCodecPreferences(
                [c for name in PREFERRED for c in audio_codecs if c.mimeType == name])
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
                answer = await pc.createAnswer()
                await pc.setLocalDescription(answer)  # gathers every candidate: no trickle
            except OperationError as exc:
                raise OfferError(422, str(exc)) from None
            except (ValueError, InvalidStateError) as exc:
                raise OfferError(400, f"offer refused: {exc}") from None
            except (AttributeError, KeyError, IndexError, TypeError, RuntimeError) as exc:
                # aiortc trips over some broken offers (no a=setup, a section without its
                # transport): still the offer's fault, said without aiortc's internals.
                log.info("offer refused by aiortc: %s: %s", type(exc).__name__, exc)
                raise OfferError(400, "offer refused: incomplete or inconsistent SDP") from None
        except BaseException:
            self.negotiating -= 1
            track.stop()
            await close_quietly(pc)
            raise
        self.negotiating -= 1
        sending = transceiver.currentDirection in ("sendrecv", "sendonly")
        transport = WebRtcCallTransport(
            secrets.token_urlsafe(18), pc, pc.localDescription.sdp, track,
            retry_after_s=self.sip.retry_after_s,
            connect_timeout_s=self.settings.connect_timeout_s,
            media_timeout_s=self.settings.media_timeout_s, on_close=self._release,
            sending=sending)
        try:
            self._start(transport, host)
        except BaseException:
            transport.close()  # no runner: the peer connection is released here
            raise
        return transport

    def _start(self, transport: WebRtcCallTransport, host: str) -> None:
        services = self.services
        assert services.pool is not None
        call_id = new_id()
        plan = m.CallPlan(None, None, retry_after_s=self.sip.retry_after_s,
                          grammar_choices=services.pool.spec.kind == "vosk",
                          decode_answers=services.settings.asr.question_decoding,
                          second_pass=services.settings.asr.second_pass)
        audio = CallAudio.open(services.settings, services.pool, call_id, RATE,
                               record_outbound=True)
        runner = CallRunner(services, m.CallMachine(plan), transport, audio, call_id=call_id,
                            source="webrtc", caller_number=None, prompts=self.prompts,
                            on_done=self._call_done,
                            setup_deadline_s=self.sip.setup_deadline_s,
                            menu_source=self.menus.current)
        runner.on_caption = transport.caption
        transport.audio, transport.runner = audio, runner
        self.calls[transport.session_id] = runner
        runner.start(m.Offered())
        log.info("call %s offered over WebRTC from %s", call_id[:8], host)

    def hang_up(self, session_id: str) -> bool:
        """The caller's DELETE on the session: False if there is no such session."""
        runner = self.calls.get(session_id)
        if runner is None:
            return False
        runner.post(m.HungUp("whip_delete"))
        return True

    def _call_done(self, runner: CallRunner) -> None:
        transport = runner.transport
        assert isinstance(transport, WebRtcCallTransport)
        self.calls.pop(transport.session_id, None)
        if runner.machine.answered:
            self.completed += 1
        inbound = transport.inbound
        log.info("call %s ended (%s): %d audio frames in, %d out, %d keys",
                 runner.call_id[:8], runner.machine.end_reason or "-",
                 inbound.frames if inbound is not None else 0, transport.track.frames_sent,
                 transport.keys)

    def _release(self, transport: WebRtcCallTransport) -> None:
        task = asyncio.ensure_future(close_quietly(transport.pc))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # --- shutdown --------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop taking calls; hang up and draft every call in progress."""
        self.draining = True
        if self._rendering is not None:
            self._rendering.cancel()  # the thread finishes its prompt; nobody waits for it
        await hang_up_all(self.calls.values())
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=CLOSE_TIMEOUT_S)


async def close_quietly(pc: RTCPeerConnection) -> None:
    """Close a peer connection that a broken offer left half set up: aiortc's close stops
    at the first part that never started, so the ICE transports (sockets) are closed here
    one by one as well."""
    try:
        await pc.close()
        return
    except Exception as exc:
        log.debug("closing a half-negotiated peer connection: %r", exc)
    sctp = pc.sctp
    parts = [t.receiver.transport for t in pc.getTransceivers()]
    parts += [sctp.transport] if sctp is not None else []
    for dtls in parts:
        with contextlib.suppress(Exception):
            await dtls.stop()
        with contextlib.suppress(Exception):
            await dtls.transport.stop()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased, as browsers send in Origin."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()
