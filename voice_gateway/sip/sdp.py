"""SDP (RFC 4566) parse/serialize, and RFC 3264 offer/answer for one G.711 audio stream.

``SessionDescription.parse(text)`` / ``.serialize()``; :func:`answer_offer` takes a remote
offer and our :class:`AudioPolicy` and returns our answer plus the :class:`NegotiatedAudio`
the RTP side needs (payload types, remote address, ptime, direction, SRTP keys). With
nothing we can take it raises :class:`~voice_gateway.sip.errors.NoCommonCodec` (answer 488).

SRTP is SDES (RFC 4568, :mod:`voice_gateway.sip.sdes`): an ``RTP/SAVP`` stream with an
``a=crypto`` line we can take is answered with ``RTP/SAVP`` and our own key. The policy's
``srtp`` says whether such streams are refused (``never``: the keys would cross the network
in clear text), taken (``allow``) or the only ones taken (``require``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

from voice_gateway.sip.errors import NoCommonCodec, SdpError
from voice_gateway.sip.sdes import (
    DEFAULT_SUITES,
    SUITE_KEY_LENGTHS,
    CryptoAttribute,
    SrtpKeys,
    crypto_lines,
    new_master_key,
)

# Static payload types we know by number (RFC 3551 table 4).
STATIC_CODECS = {0: ("PCMU", 8000), 8: ("PCMA", 8000)}
STATIC_CN_PT, STATIC_CN = 13, ("CN", 8000)  # RFC 3551's static comfort noise type
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_MIRROR = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
           "inactive": "inactive"}  # fmt: skip

# Line grammar of RFC 4566 §9:
#   origin-field = %x6f "=" username SP sess-id SP sess-version SP nettype SP addrtype SP
#                  unicast-address CRLF
ORIGIN_RE = re.compile(r"(\S+) ([0-9]+) ([0-9]+) (\S+) (\S+) (\S+)")
#   connection-field = [%x63 "=" nettype SP addrtype SP connection-address CRLF]
CONNECTION_RE = re.compile(r"(\S+) (\S+) (\S+)")
#   media-field = %x6d "=" media SP port ["/" integer] SP proto 1*(SP fmt) CRLF
MEDIA_RE = re.compile(r"([a-z]+) ([0-9]{1,5})(?:/([0-9]+))? (\S+)((?: \S+)+)")
#   a=rtpmap:<payload type> <encoding name>/<clock rate> [/<encoding parameters>]
RTPMAP_RE = re.compile(r"([0-9]{1,3}) ([^/\s]+)/([0-9]+)(?:/(\S+))?")
LINE_RE = re.compile(r"([a-z])=(.*)")
# RFC 4733 §2.4.1, the fmtp of telephone-event: "a comma-separated list of elements, each
# of which is either a single event code or a range of codes given as a pair of codes
# separated by a hyphen", e.g. "0-15,66".
EVENT_ITEM_RE = re.compile(r"([0-9]{1,3})(?:-([0-9]{1,3}))?")
# The RFC 4733 events we receive: DTMF digits, * and #, A-D (0-15) and flash (16).
EVENTS_WE_TAKE = range(17)
PLAIN_PROFILE = "RTP/AVP"
SECURE_PROFILE = "RTP/SAVP"  # RFC 3711, keys by SDES
SrtpMode = Literal["never", "allow", "require"]
# RFC 3261 §20.43, 302 Incompatible transport protocol: the m= line's profile.
SRTP_REQUIRED = (302, "SRTP required: RTP/SAVP with a=crypto AES_CM_128_HMAC_SHA1_80")
SRTP_NEEDS_TLS = (302, "RTP/SAVP is taken only in calls over SIP over TLS")


@dataclass
class Origin:
    """``o=`` line."""

    username: str = "-"
    session_id: str = "0"
    session_version: int = 0
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "0.0.0.0"

    def __str__(self) -> str:
        return (f"{self.username} {self.session_id} {self.session_version} "
                f"{self.nettype} {self.addrtype} {self.address}")  # fmt: skip


@dataclass
class Connection:
    """``c=`` line."""

    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass
class MediaDescription:
    """One ``m=`` section."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    info: list[tuple[str, str]] = field(default_factory=list)  # i= and k= lines

    def attribute(self, name: str) -> str | None:
        """Value of the first ``a=name:value`` (``""`` for a flag, ``None`` if absent)."""
        for key, value in self.attributes:
            if key == name:
                return value or ""
        return None

    def rtpmaps(self) -> dict[int, tuple[str, int]]:
        """Payload type → (encoding name, clock rate), static types included."""
        maps = {pt: STATIC_CODECS[pt] for pt in _int_formats(self.formats) if pt in STATIC_CODECS}
        for key, value in self.attributes:
            if key == "rtpmap" and value and (match := RTPMAP_RE.fullmatch(value.strip())):
                maps[int(match[1])] = (match[2], int(match[3]))
        return maps

    @property
    def direction(self) -> str | None:
        """The media-level direction attribute, if any."""
        for key, _ in self.attributes:
            if key in DIRECTIONS:
                return key
        return None

    @property
    def ptime(self) -> int | None:
        """``a=ptime`` in milliseconds."""
        value = self.attribute("ptime")
        try:
            return int(float(value)) if value else None
        except ValueError:
            return None


@dataclass
class SessionDescription:
    """A whole SDP body."""

    origin: Origin = field(default_factory=Origin)
    session_name: str = "-"
    connection: Connection | None = None
    times: list[str] = field(default_factory=lambda: ["0 0"])
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)
    info: list[tuple[str, str]] = field(default_factory=list)  # i u e p b z k r lines

    @classmethod
    def parse(cls, data: str | bytes) -> SessionDescription:
        """Parse an SDP body; raise :class:`SdpError` if it is not one."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        lines = [line.rstrip("\r") for line in text.split("\n") if line.strip()]
        if not lines or lines[0].strip() != "v=0":
            raise SdpError("SDP must start with v=0")
        sdp = cls(times=[])
        current: MediaDescription | None = None
        for line in lines[1:]:
            match = LINE_RE.fullmatch(line)
            if match is None:
                raise SdpError(f"malformed SDP line {line[:20]!r}")
            kind, value = match[1], match[2]
            if kind == "m":
                current = _parse_media(value)
                sdp.media.append(current)
            elif kind == "o":
                sdp.origin = _parse_origin(value)
            elif kind == "s":
                sdp.session_name = value
            elif kind == "t":
                sdp.times.append(value)
            elif kind == "c":
                connection = _parse_connection(value)
                if current is None:
                    sdp.connection = connection
                else:
                    current.connection = connection
            elif kind == "a":
                name, _, attr_value = value.partition(":")
                attr = (name, attr_value if ":" in value else None)
                (current.attributes if current else sdp.attributes).append(attr)
            elif kind == "b" and current is not None:
                current.bandwidths.append(value)
            else:
                (current.info if current else sdp.info).append((kind, value))
        return sdp

    def serialize(self) -> bytes:
        """Wire form, CRLF line ends, fields in RFC 4566 order."""
        lines = ["v=0", f"o={self.origin}", f"s={self.session_name or '-'}"]
        lines += [f"{k}={v}" for k, v in self.info if k in "iuep"]
        if self.connection is not None:
            lines.append(f"c={self.connection}")
        lines += [f"{k}={v}" for k, v in self.info if k == "b"]
        lines += [f"t={t}" for t in self.times or ["0 0"]]
        lines += [f"{k}={v}" for k, v in self.info if k in "rzk"]
        lines += [_attr_line(a) for a in self.attributes]
        for m in self.media:
            port = f"{m.port}/{m.port_count}" if m.port_count else str(m.port)
            lines.append(f"m={m.media} {port} {m.proto} {' '.join(m.formats)}")
            lines += [f"{k}={v}" for k, v in m.info if k == "i"]
            if m.connection is not None:
                lines.append(f"c={m.connection}")
            lines += [f"b={b}" for b in m.bandwidths]
            lines += [f"{k}={v}" for k, v in m.info if k == "k"]
            lines += [_attr_line(a) for a in m.attributes]
        return ("\r\n".join(lines) + "\r\n").encode()

    @property
    def session_direction(self) -> str | None:
        """The session-level direction attribute, if any."""
        for key, _ in self.attributes:
            if key in DIRECTIONS:
                return key
        return None


def _attr_line(attr: tuple[str, str | None]) -> str:
    name, value = attr
    return f"a={name}" if value is None else f"a={name}:{value}"


def _int_formats(formats: list[str]) -> list[int]:
    return [int(f) for f in formats if f.isdigit() and int(f) < 128]


def _parse_origin(value: str) -> Origin:
    match = ORIGIN_RE.fullmatch(value.strip())
    if match is None:
        raise SdpError("malformed o= line")
    return Origin(match[1], match[2], int(match[3]), match[4], match[5], match[6])


def _parse_connection(value: str) -> Connection:
    match = CONNECTION_RE.fullmatch(value.strip())
    if match is None:
        raise SdpError("malformed c= line")
    return Connection(match[3].split("/")[0], match[1], match[2])


def _parse_media(value: str) -> MediaDescription:
    match = MEDIA_RE.fullmatch(value.strip())
    if match is None:
        raise SdpError("malformed m= line")
    port = int(match[2])
    if port > 65535:
        raise SdpError("m= port out of range")
    count = int(match[3]) if match[3] else None
    return MediaDescription(match[1], port, match[4], match[5].split(), port_count=count)


# --- offer/answer (RFC 3264) -------------------------------------------------------------


@dataclass(frozen=True)
class AudioPolicy:
    """What we accept: codec names in our order of support, RFC 4733 events, our ptime."""

    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    telephone_event: bool = True
    telephone_event_pt: int = 101  # used in our own offers
    # Answer an offered CN (RFC 3389): silence between prompts then goes as a comfort
    # noise packet every 200 ms instead of a silence frame every 20 ms.
    comfort_noise: bool = True
    ptime: int = 20
    srtp: SrtpMode = "never"  # RTP/SAVP streams: refused, taken, or the only ones taken
    srtp_suites: tuple[str, ...] = DEFAULT_SUITES


@dataclass(frozen=True)
class NegotiatedAudio:
    """The agreed audio stream, from our side."""

    codec: str
    payload_type: int
    clock_rate: int
    telephone_event_pt: int | None
    ptime: int  # what the peer wants to receive
    remote_host: str
    remote_port: int
    direction: str  # what we may do: sendrecv / sendonly / recvonly / inactive
    on_hold: bool  # the peer put the call on hold
    srtp: SrtpKeys | None = None  # RTP/SAVP: the keys each side sends with
    comfort_noise_pt: int | None = None  # CN (RFC 3389), both offered and allowed


def media_direction(sdp: SessionDescription, media: MediaDescription) -> str:
    """The stream's direction from the description's author's point of view."""
    return media.direction or sdp.session_direction or "sendrecv"


def is_hold(sdp: SessionDescription) -> bool:
    """True if the first audio stream is held: sendonly/inactive, or ``c=0.0.0.0`` (RFC 2543)."""
    for media in sdp.media:
        if media.media == "audio" and media.port != 0:
            connection = media.connection or sdp.connection
            if connection is not None and connection.address == "0.0.0.0":
                return True
            return media_direction(sdp, media) in ("sendonly", "inactive")
    return False


def answer_offer(
    offer: SessionDescription,
    policy: AudioPolicy,
    local_host: str,
    local_port: int,
    *,
    session_id: str,
    session_version: int = 0,
    prefer: str | None = None,
    srtp_key: bytes | None = None,
) -> tuple[SessionDescription, NegotiatedAudio]:
    """Answer ``offer``: take the first audio stream with a codec we support, choosing
    ``prefer`` (the call's current codec, in a re-INVITE) if offered, else the first such
    codec in the offer's order; reject every other stream with port 0.

    If the stream taken is SRTP, our master key is ``srtp_key`` (kept across a re-INVITE)
    when it fits the suite, else a fresh random one."""
    answer = SessionDescription(
        origin=Origin("voice-intake", session_id, session_version, "IN", _addrtype(local_host),
                      local_host),
        connection=Connection(local_host, "IN", _addrtype(local_host)),
    )  # fmt: skip
    negotiated: NegotiatedAudio | None = None
    for media in offer.media:
        chosen = None if negotiated else _negotiate(offer, media, policy, prefer)
        if chosen is None:
            answer.media.append(MediaDescription(media.media, 0, media.proto, media.formats[:]))
            continue
        events = None
        if chosen.telephone_event_pt is not None:
            events = answered_events(media, chosen.telephone_event_pt)
            if events is None:
                chosen = replace(chosen, telephone_event_pt=None)
        if chosen.srtp is not None:
            keys = chosen.srtp
            key = srtp_key
            if key is None or len(key) != SUITE_KEY_LENGTHS[keys.suite]:
                key = new_master_key(keys.suite)
            chosen = replace(chosen, srtp=replace(keys, local_key=key))
        negotiated = chosen
        formats = [str(chosen.payload_type)]
        attributes: list[tuple[str, str | None]] = [
            ("rtpmap", f"{chosen.payload_type} {chosen.codec}/{chosen.clock_rate}")
        ]
        if chosen.telephone_event_pt is not None:
            formats.append(str(chosen.telephone_event_pt))
            attributes.append(("rtpmap", f"{chosen.telephone_event_pt} telephone-event/8000"))
            if events:
                attributes.append(("fmtp", f"{chosen.telephone_event_pt} {events}"))
        if chosen.comfort_noise_pt is not None:
            formats.append(str(chosen.comfort_noise_pt))
            attributes.append(("rtpmap", f"{chosen.comfort_noise_pt} CN/8000"))
        if chosen.srtp is not None:
            keys = chosen.srtp
            attributes.append(("crypto", str(CryptoAttribute(keys.tag, keys.suite,
                                                             keys.local_key))))
        attributes += [("ptime", str(policy.ptime)), (_MIRROR[_offer_direction(offer, media)],
                                                       None)]  # fmt: skip
        answer.media.append(MediaDescription("audio", local_port, media.proto, formats,
                                             attributes=attributes))  # fmt: skip
    if negotiated is None:
        raise NoCommonCodec("no acceptable audio stream in the offer", _refusal_warning(
            offer, policy))
    return answer, negotiated


def _refusal_warning(offer: SessionDescription, policy: AudioPolicy) -> tuple[int, str] | None:
    """The Warning worth adding to a 488 for ``offer``: SRTP required, or SRTP refused."""
    if policy.srtp == "require":
        return SRTP_REQUIRED
    offered = {m.proto.upper() for m in offer.media if m.media == "audio" and m.port}
    if policy.srtp == "never" and SECURE_PROFILE in offered:
        return SRTP_NEEDS_TLS
    return None


def answered_events(media: MediaDescription, pt: int) -> str | None:
    """The telephone-event list of our answer (RFC 4733 §7.1.1): the offered events that we
    take (:data:`EVENTS_WE_TAKE`), each code or range in the offer's form and order (``0-15``
    stays ``0-15``, ``0-255`` becomes ``0-16``, ``66`` goes). ``""`` when the offer has no
    fmtp for ``pt`` (the default, 0-15, is all ours: the answer then has none either);
    ``None`` when no offered event is ours (answer without telephone-event)."""
    listed = None
    for key, value in media.attributes:
        head, _, rest = (value or "").strip().partition(" ")
        if key == "fmtp" and head == str(pt):
            listed = rest
            break
    if listed is None:
        return ""
    kept: list[str] = []
    for item in listed.split(","):
        match = EVENT_ITEM_RE.fullmatch(item.strip())
        if match is None:
            continue
        low = max(int(match[1]), EVENTS_WE_TAKE.start)
        high = min(int(match[2] or match[1]), EVENTS_WE_TAKE.stop - 1)
        if low <= high:
            kept.append(str(low) if low == high else f"{low}-{high}")
    return ",".join(kept) or None


def build_offer(
    policy: AudioPolicy,
    local_host: str,
    local_port: int,
    *,
    session_id: str,
    session_version: int = 0,
    direction: str = "sendrecv",
    srtp_key: bytes | None = None,
) -> SessionDescription:
    """Our own offer (for an INVITE that arrived without SDP): ``RTP/SAVP`` with one
    crypto line (tag 1, the policy's first suite) carrying ``srtp_key`` if one is given."""
    formats: list[str] = []
    attributes: list[tuple[str, str | None]] = []
    for name in policy.codecs:
        pt = next(pt for pt, (codec, _) in STATIC_CODECS.items() if codec == name)
        formats.append(str(pt))
        attributes.append(("rtpmap", f"{pt} {name}/8000"))
    if policy.telephone_event:
        pt = policy.telephone_event_pt
        formats.append(str(pt))
        attributes += [("rtpmap", f"{pt} telephone-event/8000"), ("fmtp", f"{pt} 0-16")]
    proto = PLAIN_PROFILE
    if srtp_key is not None:
        proto = SECURE_PROFILE
        attributes.append(("crypto", str(CryptoAttribute(1, policy.srtp_suites[0], srtp_key))))
    attributes += [("ptime", str(policy.ptime)), (direction, None)]
    addrtype = _addrtype(local_host)
    return SessionDescription(
        origin=Origin("voice-intake", session_id, session_version, "IN", addrtype, local_host),
        connection=Connection(local_host, "IN", addrtype),
        media=[MediaDescription("audio", local_port, proto, formats, attributes=attributes)],
    )


def offered_audio(policy: AudioPolicy) -> NegotiatedAudio:
    """What the RTP side starts with while our offer (:func:`build_offer`) waits for its
    answer: our first codec and events, no remote address yet."""
    name = policy.codecs[0]
    pt = next(pt for pt, (codec, _) in STATIC_CODECS.items() if codec == name)
    return NegotiatedAudio(
        codec=name, payload_type=pt, clock_rate=8000,
        telephone_event_pt=policy.telephone_event_pt if policy.telephone_event else None,
        ptime=policy.ptime, remote_host="0.0.0.0", remote_port=0, direction="sendrecv",
        on_hold=False,
    )  # fmt: skip


def negotiated_from_answer(
    offer: SessionDescription, answer: SessionDescription, policy: AudioPolicy
) -> NegotiatedAudio:
    """What was agreed when we made ``offer`` and the peer answered ``answer``: the
    answer keeps our stream's profile, and an SRTP answer picks one of our crypto lines
    (its tag and suite) and brings the peer's key."""
    ours = next((m for m in offer.media if m.media == "audio" and m.port), None)
    proto = ours.proto.upper() if ours is not None else PLAIN_PROFILE
    for media in answer.media:
        if media.media == "audio" and media.port != 0 and media.proto.upper() == proto:
            chosen = _negotiate(answer, media, policy)
            if chosen is None:
                continue
            if chosen.srtp is None:
                return chosen
            offered = {line.tag: line for line in crypto_lines(ours.attributes if ours else [])}
            line = offered.get(chosen.srtp.tag)
            if line is not None and line.suite == chosen.srtp.suite:
                return replace(chosen, srtp=replace(chosen.srtp, local_key=line.key))
    raise NoCommonCodec("no acceptable audio stream in the answer")


def local_srtp_key(sdp: SessionDescription) -> bytes | None:
    """Our master key in ``sdp`` (an answer or offer of ours), if its stream is SRTP."""
    for media in sdp.media:
        if media.media == "audio" and media.port and media.proto.upper() == SECURE_PROFILE:
            lines = crypto_lines(media.attributes)
            return lines[0].key if lines else None
    return None


def _offer_direction(sdp: SessionDescription, media: MediaDescription) -> str:
    connection = media.connection or sdp.connection
    direction = media_direction(sdp, media)
    if connection is not None and connection.address == "0.0.0.0" and direction == "sendrecv":
        return "sendonly"  # RFC 3264 §8.4: old-style hold
    return direction


def _negotiate(
    sdp: SessionDescription,
    media: MediaDescription,
    policy: AudioPolicy,
    prefer: str | None = None,
) -> NegotiatedAudio | None:
    if media.media != "audio" or media.port == 0:
        return None
    connection = media.connection or sdp.connection
    if connection is None:
        return None
    acceptable, keys = _stream_keys(media, policy)
    if not acceptable:
        return None
    maps = media.rtpmaps()
    wanted = {name.upper() for name in policy.codecs}
    codec: tuple[int, str, int] | None = None
    event_pt: int | None = None
    cn_pt: int | None = None
    for pt in _int_formats(media.formats):
        name, rate = maps.get(pt, STATIC_CN if pt == STATIC_CN_PT else ("", 0))
        if name.upper() in wanted and rate == 8000:
            preferred = prefer is not None and name.upper() == prefer.upper()
            if codec is None or (preferred and codec[1] != name.upper()):
                codec = (pt, name.upper(), rate)
        elif name.lower() == "telephone-event" and rate == 8000 and event_pt is None:
            event_pt = pt
        elif name.upper() == "CN" and rate == 8000 and cn_pt is None:
            cn_pt = pt
    if codec is None:
        return None
    direction = _offer_direction(sdp, media)
    return NegotiatedAudio(
        codec=codec[1], payload_type=codec[0], clock_rate=codec[2],
        telephone_event_pt=event_pt if policy.telephone_event else None,
        ptime=media.ptime or 20, remote_host=connection.address, remote_port=media.port,
        direction=_MIRROR[direction], on_hold=direction in ("sendonly", "inactive"),
        srtp=keys, comfort_noise_pt=cn_pt if policy.comfort_noise else None,
    )  # fmt: skip


def _stream_keys(media: MediaDescription, policy: AudioPolicy) -> tuple[bool, SrtpKeys | None]:
    """Whether we may take the stream's profile, and for RTP/SAVP the peer's key (ours
    still empty) from its first crypto line we can take (none: we may not)."""
    proto = media.proto.upper()
    if proto == PLAIN_PROFILE:
        return policy.srtp != "require", None
    if proto != SECURE_PROFILE or policy.srtp == "never":
        return False, None
    for line in crypto_lines(media.attributes):
        if line.usable(policy.srtp_suites):
            return True, SrtpKeys(line.suite, line.tag, local_key=b"", remote_key=line.key)
    return False, None
    for line in crypto_lines(media.attributes):
        if line.usable(policy.srtp_suites):
            return SrtpKeys(line.suite, line.tag, local_key=b"", remote_key=line.key)
    return False


def with_direction(sdp: SessionDescription, direction: str) -> SessionDescription:
    """A copy of ``sdp`` whose audio streams carry ``direction`` (session version kept)."""
    media = []
    for m in sdp.media:
        attributes = [(k, v) for k, v in m.attributes if k not in DIRECTIONS]
        if m.port != 0:
            attributes.append((direction, None))
        media.append(replace(m, attributes=attributes))
    return replace(sdp, media=media, origin=replace(sdp.origin))


def _addrtype(host: str) -> str:
    return "IP6" if ":" in host else "IP4"
