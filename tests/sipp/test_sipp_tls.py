"""SIP over TLS with SDES-SRTP against the real sipp, and a secure trunk network refused
over plain transports.

Debian's sipp 3.6.1 is built without OpenSSL (``-t l1``: "you must compile SIPp with
OpenSSL") and without SRTP (no ``[cryptoN]`` keywords). So sipp speaks TCP to a TLS relay
started here (Python's ssl, verifying the gateway's trial certificate), and writes Via and
Contact with TLS itself; its SRTP audio is a pcap protected beforehand with the key its
offer carries. The gateway must unprotect that audio to transcribe it. The other direction
(our SRTP, with the key of our answer) is checked by a small UAC here that speaks SIP over
TLS and SRTP through pylibsrtp.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pylibsrtp
import pytest

from asr.audio import load_audio
from asr.g711 import pcm_to_ulaw
from config import Settings
from tests.conftest import CALLS_DIR, SHARED
from tests.sipp.harness import free_port, run_sipp, running_gateway, sip_settings, wait_for_drafts
from tests.sipp.pcap import write_rtp_pcap
from voice_gateway.rtp.g711 import PCMU
from voice_gateway.rtp.packet import RtpPacket
from voice_gateway.sip.tls import client_context

pytestmark = [pytest.mark.slow]

D10 = next(
    case for line in (SHARED / "samples" / "drafting_dev.jsonl").read_text("utf-8").splitlines()
    if line.strip() and (case := json.loads(line))["id"] == "D10"
)  # fmt: skip
SUITE = "AES_CM_128_HMAC_SHA1_80"


@contextlib.asynccontextmanager
async def tls_relay(target_port: int, context: ssl.SSLContext | None, *,
                    listen: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """A TCP port whose connections are carried over TLS (``context``) to
    127.0.0.1:``target_port``, for a client without TLS; with ``listen`` the other way
    round too: TLS accepted with that server context (for a server without TLS, such as
    sipp as the callee), carried on over TCP when ``context`` is None. Yields the port."""
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(
            "127.0.0.1", target_port, ssl=context,
            server_hostname="127.0.0.1" if context else None)
        for task in (asyncio.ensure_future(pipe(reader, up_writer)),
                     asyncio.ensure_future(pipe(up_reader, writer))):  # fmt: skip
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(accepted, "127.0.0.1", 0, ssl=listen)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def tls_settings(settings: Settings, **sip: object) -> Settings:
    return sip_settings(settings, tls_port=free_port(), tls_self_signed=True, **sip)


def trial_cert(settings: Settings) -> Path:
    return settings.data_dir / "tls" / "trial-cert.pem"


def srtp_audio(wav: Path, workdir: Path, key: bytes) -> dict[str, str]:
    """``wav``'s audio as SRTP (PCMU) protected with ``key``, as scenario values."""
    audio = load_audio(wav)
    assert audio.sample_rate == 8000
    session = pylibsrtp.Session(pylibsrtp.Policy(
        key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    out = workdir / "srtp.pcap"
    ms = int(write_rtp_pcap(out, pcm_to_ulaw(audio.pcm), protect=session.protect) * 1000)
    return {"AUDIO_PCAP": str(out), "AUDIO_MS": str(ms),
            "CRYPTO_KEY": base64.b64encode(key).decode()}


async def test_sipp_call_over_tls_with_srtp_audio_is_transcribed(
    settings: Settings, tmp_path: Path
) -> None:
    settings = tls_settings(settings)
    values = srtp_audio(CALLS_DIR / "D10.ulaw.wav", tmp_path, secrets.token_bytes(30))
    async with running_gateway(settings) as (services, gateway):
        assert gateway.tls_port is not None
        context = client_context(trial_cert(settings))  # the trial certificate is verified
        async with tls_relay(gateway.tls_port, context) as relay:
            run = await run_sipp("uac_tls_srtp.xml", relay, tmp_path, transport="t1",
                                 inf=[[D10["caller_number"]]], values=values)  # fmt: skip
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
        assert len(drafts) == 1
        call = await services.store.get_call(drafts[0]["call_id"])
    assert call is not None and call.end_reason == "remote-bye"
    # Only audio unprotected with the offer's key can have been heard and transcribed.
    assert call.utterances and call.utterances[0].text
    assert drafts[0]["phone"] == D10["expect"]["phone"]
    assert gateway.calls == {}


async def test_delayed_offer_from_a_secure_network_is_offered_srtp(
    settings: Settings, tmp_path: Path
) -> None:
    settings = tls_settings(settings, secure_networks=("127.0.0.0/8",))
    values = srtp_audio(CALLS_DIR / "D10.ulaw.wav", tmp_path, secrets.token_bytes(30))
    async with running_gateway(settings) as (services, gateway):
        assert gateway.tls_port is not None
        async with tls_relay(gateway.tls_port, client_context(trial_cert(settings))) as relay:
            run = await run_sipp("uac_tls_srtp_delayed_offer.xml", relay, tmp_path,
                                 transport="t1", inf=[[D10["caller_number"]]], values=values)
        assert run.returncode == 0, run.errors or run.stderr
        drafts = await wait_for_drafts(services, 1)
        call = await services.store.get_call(drafts[0]["call_id"])
    # The ACK's key was taken: the SRTP audio was heard and transcribed.
    assert call is not None and call.end_reason == "remote-bye"
    assert call.utterances and call.utterances[0].text
    assert drafts[0]["phone"] == D10["expect"]["phone"]


async def test_a_secure_network_calling_over_udp_gets_403(
    settings: Settings, tmp_path: Path
) -> None:
    settings = tls_settings(settings, secure_networks=("127.0.0.1/32",))
    async with running_gateway(settings, with_asr=False) as (services, gateway):
        run = await run_sipp("uac_refused.xml", settings.sip.port, tmp_path,
                             values={"STATUS": "403"})  # fmt: skip
        assert run.returncode == 0, run.errors or run.stderr
        tcp = await run_sipp("uac_refused.xml", settings.sip.port, tmp_path, transport="t1",
                             values={"STATUS": "403"})  # fmt: skip
        assert tcp.returncode == 0, tcp.errors or tcp.stderr
        assert gateway.calls == {} and await services.store.list_drafts() == []


async def test_a_secure_network_offering_plain_rtp_over_tls_gets_488(
    settings: Settings, tmp_path: Path
) -> None:
    settings = tls_settings(settings, secure_networks=("127.0.0.0/8",))
    async with running_gateway(settings, with_asr=False) as (services, gateway):
        assert gateway.tls_port is not None
        async with tls_relay(gateway.tls_port, client_context(trial_cert(settings))) as relay:
            run = await run_sipp("uac_refused.xml", relay, tmp_path, transport="t1",
                                 values={"STATUS": "488"})  # fmt: skip
        assert run.returncode == 0, run.errors or run.stderr
        assert gateway.calls == {} and await services.store.list_drafts() == []


# --- our SRTP, as a pylibsrtp peer hears it ----------------------------------------------


class MediaPeer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.datagrams.append(data)


async def read_message(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    return head + await reader.readexactly(length)


def uac_request(method: str, port: int, media_port: int, key: bytes, *, cseq: int,
                to_tag: str = "", body: bool = False) -> bytes:  # fmt: skip
    sdp = ("v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           f"m=audio {media_port} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
           f"a=crypto:1 {SUITE} inline:{base64.b64encode(key).decode()}\r\n"
           "a=sendrecv\r\n") if body else ""  # fmt: skip
    lines = [f"{method} sip:12345@127.0.0.1:{port};transport=tls SIP/2.0",
             f"Via: SIP/2.0/TLS 127.0.0.1:5099;branch=z9hG4bK{method}{cseq};rport",
             "Max-Forwards: 70", "From: <sip:13900000002@127.0.0.1>;tag=peer1",
             f"To: <sip:12345@127.0.0.1>{';tag=' + to_tag if to_tag else ''}",
             "Call-ID: srtp-peer-1", f"CSeq: {cseq} {method}",
             "Contact: <sip:13900000002@127.0.0.1:5099;transport=tls>"]  # fmt: skip
    if sdp:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(sdp)}")
    return ("\r\n".join(lines) + "\r\n\r\n" + sdp).encode()


async def test_what_the_gateway_sends_is_srtp_with_the_key_of_its_answer(
    settings: Settings, tmp_path: Path
) -> None:
    settings = tls_settings(settings)
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(MediaPeer, local_addr=("127.0.0.1", 0))
    assert peer.transport is not None
    media_port = int(peer.transport.get_extra_info("sockname")[1])
    our_key = secrets.token_bytes(30)
    async with running_gateway(settings) as (_services, gateway):
        assert gateway.tls_port is not None
        port = gateway.tls_port
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context(trial_cert(settings)),
            server_hostname="127.0.0.1")
        try:
            writer.write(uac_request("INVITE", port, media_port, our_key, cseq=1, body=True))
            ok = await read_message(reader)
            while not ok.startswith(b"SIP/2.0 200"):
                ok = await read_message(reader)
            tag = re.search(rb"^To: .*;tag=([^;\r\n]+)", ok, re.M)
            crypto = re.search(rb"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:(\S+)", ok)
            rtp_port = re.search(rb"m=audio ([0-9]+) RTP/SAVP", ok)
            assert tag and crypto and rtp_port, ok
            writer.write(uac_request("ACK", port, media_port, our_key, cseq=1,
                                     to_tag=tag[1].decode()))  # fmt: skip
            # Our SRTP to the gateway (it latches on it), then a second of its media.
            tx = pylibsrtp.Session(pylibsrtp.Policy(
                key=our_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
            for seq in range(25):
                packet = RtpPacket(0, seq, seq * 160, 777, b"\xff" * 160).serialize()
                peer.transport.sendto(tx.protect(packet), ("127.0.0.1", int(rtp_port[1])))
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)
            writer.write(uac_request("BYE", port, media_port, our_key, cseq=2,
                                     to_tag=tag[1].decode()))  # fmt: skip
            reply = await read_message(reader)
            while b"CSeq: 2 BYE" not in reply:
                reply = await read_message(reader)
        finally:
            writer.close()
            peer.transport.close()
    their_key = base64.b64decode(crypto[1])
    assert their_key != our_key and len(their_key) == 30
    rx = pylibsrtp.Session(pylibsrtp.Policy(
        key=their_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND))
    assert len(peer.datagrams) >= 25  # keep-alive silence and prompts, 50 a second
    for data in peer.datagrams:
        heard = RtpPacket.parse(rx.unprotect(data))  # raises unless authentic
        assert heard.payload_type == 0 and len(PCMU.decode(heard.payload)) == 320
