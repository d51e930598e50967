"""Random mutations of valid messages never raise out of the parser or the core."""

from __future__ import annotations

import random
import re

import pytest

from voice_gateway.sip.errors import SipMessageError
from voice_gateway.sip.events import IncomingCall, Transmit, Transport
from voice_gateway.sip.framing import StreamFramer
from voice_gateway.sip.grammar import QUOTED_STRING, split_list
from voice_gateway.sip.message import Message, Request, parse_message
from voice_gateway.sip.uas import UserAgentServer

from .support import SRC, invite, request

SEEDS = range(4)
ROUNDS = 500
ALPHABET = b' \t\r\n:;,<>"@=%/\\0123456789abcSIPz\x00\xff'
DISPLAY_NAME = re.compile(rf"[ \t]*{QUOTED_STRING}[ \t]*(?=<)")


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        kind = rng.randrange(7)
        pos = rng.randrange(len(buf) + 1)
        if kind == 0 and buf:  # flip a byte
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif kind == 1:  # insert syntax-relevant bytes
            buf[pos:pos] = bytes(rng.choice(ALPHABET) for _ in range(rng.randint(1, 4)))
        elif kind == 2:  # delete a span
            del buf[pos : pos + rng.randint(1, 12)]
        elif kind == 3:  # truncate
            del buf[pos:]
        elif kind == 4:  # duplicate a line
            lines = bytes(buf).split(b"\r\n")
            line = rng.choice(lines)
            lines.insert(rng.randrange(len(lines) + 1), line)
            buf = bytearray(b"\r\n".join(lines))
        elif kind == 5:  # drop a line
            lines = bytes(buf).split(b"\r\n")
            if len(lines) > 1:
                del lines[rng.randrange(len(lines))]
            buf = bytearray(b"\r\n".join(lines))
        else:  # swap two lines
            lines = bytes(buf).split(b"\r\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            buf = bytearray(b"\r\n".join(lines))
    return bytes(buf)


SAMPLES = [
    invite(),
    request("BYE", to_tag="id0"),
    request("CANCEL"),
    request("INFO", to_tag="id0", content_type="application/dtmf-relay", body="Signal=1\r\n"),
    request("OPTIONS"),
]


@pytest.mark.parametrize("seed", SEEDS)
def test_parser_raises_only_sip_errors(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(ROUNDS):
        data = mutate(rng.choice(SAMPLES), rng)
        try:
            message = parse_message(data, stream=rng.random() < 0.5)
        except SipMessageError as exc:
            assert 400 <= exc.status < 600
        else:
            assert_text_is_utf8(message)


def assert_text_is_utf8(message: Message) -> None:
    """What the application reads as text encodes as UTF-8: only a quoted display name
    (copied back, never read) may hold other bytes."""
    if isinstance(message, Request):
        message.uri.encode()
    for name, value in message.headers:
        name.encode()
        for item in split_list(value):
            display = DISPLAY_NAME.match(item)
            item[display.end() if display else 0 :].encode()


@pytest.mark.parametrize("seed", SEEDS)
def test_core_never_raises_and_answers_with_errors_or_events(seed: int) -> None:
    rng = random.Random(seed)
    core = UserAgentServer()
    for _ in range(ROUNDS):
        data = mutate(rng.choice(SAMPLES), rng)
        transport = Transport.TCP if rng.random() < 0.3 else Transport.UDP
        events = core.receive_data(data, SRC, transport)
        sent = [a.data for a in core.drain_actions() if isinstance(a, Transmit)]
        for out in sent:
            assert out.startswith(b"SIP/2.0 ")
            status = int(out[8:11])
            assert status in (100, 200) or 400 <= status < 600, out[:40]
        if any(int(out[8:11]) == 100 for out in sent):
            assert any(isinstance(e, IncomingCall) for e in events)
        for event in events:
            if isinstance(event, IncomingCall):
                core.reject(event.call, 486)  # keep going with a clean slate of calls
                core.drain_actions()
    assert core.stats.internal_errors == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_framer_on_random_chunks(seed: int) -> None:
    rng = random.Random(seed)
    messages = [rng.choice(SAMPLES) for _ in range(30)]
    stream = b"".join(m + rng.choice([b"", b"\r\n\r\n", b"\r\n"]) for m in messages)
    framer = StreamFramer()
    got: list[bytes] = []
    pos = 0
    while pos < len(stream):
        size = rng.randint(1, 300)
        got += [m for m in framer.feed(stream[pos : pos + size]) if isinstance(m, bytes)]
        pos += size
    assert got == messages
    assert not framer.broken
