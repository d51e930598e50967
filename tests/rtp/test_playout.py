"""Playout: the caller's audio placed on its own RTP timeline, events beside it (pure)."""

from __future__ import annotations

import itertools
import random

from voice_gateway.rtp.dtmf import TelephoneEvent
from voice_gateway.rtp.playout import Playout, PlayoutFrame

SSRC = 0x5EED
FRAME = 160
SILENCE = bytes(2 * FRAME)


def speech(k: int) -> bytes:
    """A recognisable 20 ms frame: every sample is k + 1 (never silence)."""
    return ((k % 30000) + 1).to_bytes(2, "little") * FRAME


def pcm(frames: list[PlayoutFrame]) -> bytes:
    return b"".join(f.pcm for f in frames)


def contiguous(frames: list[PlayoutFrame]) -> bool:
    return all(
        (b.timestamp - a.timestamp) % 2**32 == len(a.pcm) // 2
        for a, b in itertools.pairwise(frames)
    )


def test_events_sent_alongside_audio_take_no_audio_slot() -> None:
    # A softphone that keeps sending audio while a key is down: audio and events carry the
    # same timestamps, the event's duration a frame ahead of the audio it goes with.
    playout, out = Playout(), []
    start, key_at = 4_000_000_000, 10
    for k in range(50):
        now = k * 0.02
        if key_at <= k < key_at + 20:
            held = k - key_at + 2
            event = TelephoneEvent(5, end=k == key_at + 19, duration=held * FRAME)
            for _ in range(3 if event.end else 1):
                out += playout.event(SSRC, start + key_at * FRAME, event, now)
        out += playout.audio(SSRC, (start + k * FRAME) % 2**32, speech(k), now)
    out += playout.finish(1.0)
    assert pcm(out) == b"".join(speech(k) for k in range(50))
    assert [f.timestamp for f in out] == [(start + k * FRAME) % 2**32 for k in range(50)]
    assert not any(f.concealed for f in out)
    assert playout.stats.silence_frames == 0


def test_audio_muted_during_a_key_becomes_silence_of_the_key_length() -> None:
    # A gateway that sends events instead of audio while the key is down (RFC 4733 §2.6).
    playout, out = Playout(), []
    for k in range(10):
        out += playout.audio(SSRC, k * FRAME, speech(k), k * 0.02)
    for k in range(10, 30):  # 400 ms key press, ended with three end packets
        event = TelephoneEvent(1, end=k == 29, duration=(k - 9) * FRAME)
        for _ in range(3 if event.end else 1):
            out += playout.event(SSRC, 10 * FRAME, event, k * 0.02)
    # Silence reaches the recognizer while the key is down, not only once audio is back.
    assert len(out) >= 10 + 20 - 4
    for k in range(30, 40):
        out += playout.audio(SSRC, k * FRAME, speech(k), k * 0.02)
    out += playout.finish(0.8)
    assert pcm(out) == (
        b"".join(speech(k) for k in range(10))
        + SILENCE * 20
        + b"".join(speech(k) for k in range(30, 40))
    )
    assert contiguous(out)
    assert playout.stats.concealed_frames == 0


def test_a_key_held_with_no_end_packet_ends_after_the_maximum() -> None:
    # 1 s of speech, then a key held for 8 s with audio muted and no end packet ever, then
    # the call ends: the key counts for 5 s (max_key_s), not for as long as packets came.
    playout, out = Playout(max_key_s=5.0), []
    for k in range(50):
        out += playout.audio(SSRC, k * FRAME, speech(k), k * 0.02)
    for k in range(50, 450):
        event = TelephoneEvent(3, duration=min((k - 49) * FRAME, 0xFFFF))
        out += playout.event(SSRC, 50 * FRAME, event, k * 0.02)
    out += playout.finish(9.0)
    assert pcm(out) == b"".join(speech(k) for k in range(50)) + SILENCE * 250
    assert contiguous(out)


def test_a_held_key_alongside_audio_does_not_stretch_the_call() -> None:
    # The 107 s call recorded as 210 s: audio all along, and a key held with no end packet
    # for most of it. The recording is the audio, frame for frame.
    playout, out = Playout(), []
    for k in range(5000):
        if k >= 100:
            event = TelephoneEvent(9, duration=min((k - 99) * FRAME, 0xFFFF))
            out += playout.event(SSRC, 100 * FRAME, event, k * 0.02)
        out += playout.audio(SSRC, k * FRAME, speech(k), k * 0.02)
    out += playout.finish(100.0)
    assert len(out) == 5000 and pcm(out) == b"".join(speech(k) for k in range(5000))


def test_lost_audio_is_concealed_in_its_place() -> None:
    playout, out = Playout(), []
    for k in range(10):
        out += playout.audio(SSRC, k * FRAME, speech(k), k * 0.02)
    playout.lost()
    playout.lost()
    out += playout.audio(SSRC, 12 * FRAME, speech(12), 0.26)
    assert [f.concealed for f in out] == [False] * 10 + [True, True] + [False]
    assert contiguous(out) and playout.stats.concealed_frames == 2


def test_a_timestamp_jump_with_no_time_passing_is_skipped_not_filled() -> None:
    # A spliced stream: 8 s ahead in RTP time, 20 ms later in real time.
    playout, out = Playout(depth=3), []
    for k in range(10):
        out += playout.audio(SSRC, k * FRAME, speech(k), k * 0.02)
    for _ in range(400):
        playout.lost()
    for k in range(410, 420):
        out += playout.audio(SSRC, k * FRAME, speech(k), (k - 400) * 0.02)
    assert len(out) <= 10 + 3 + 10
    assert playout.stats.skipped_frames >= 390
    assert out[-1].timestamp == 419 * FRAME


def test_silence_the_sender_did_not_send_is_filled_by_timestamps() -> None:
    # Comfort noise (DTX) for 1 s: silence, placed by the next audio's timestamp.
    playout, out = Playout(), []
    for k in range(5):
        out += playout.audio(SSRC, k * FRAME, speech(k), k * 0.02)
    out += playout.comfort_noise(SSRC, 5 * FRAME, 0.1)
    out += playout.audio(SSRC, 55 * FRAME, speech(55), 1.1)
    assert pcm(out) == b"".join(speech(k) for k in range(5)) + SILENCE * 50 + speech(55)
    assert contiguous(out)


def test_audio_overlapping_what_was_filled_is_trimmed() -> None:
    playout, out = Playout(depth=1), []
    out += playout.audio(SSRC, 0, speech(0), 0.0)
    # An event that claims 5 frames at once (its duration ran ahead of the audio).
    out += playout.event(SSRC, FRAME, TelephoneEvent(2, end=True, duration=5 * FRAME), 0.2)
    filled = sum(len(f.pcm) for f in out) // 2
    out += playout.audio(SSRC, FRAME * (filled // FRAME - 1) + FRAME // 2, speech(7), 0.22)
    assert sum(len(f.pcm) for f in out) // 2 == filled + FRAME // 2  # the overlap is cut
    assert contiguous(out) and playout.stats.trimmed == 1


def test_a_new_ssrc_starts_a_new_timeline() -> None:
    playout, out = Playout(), []
    out += playout.audio(SSRC, 1000, speech(0), 0.0)
    out += playout.audio(SSRC + 1, 77, speech(1), 0.02)
    assert [f.timestamp for f in out] == [1000, 77]
    assert playout.stats.restarts == 1


def test_recording_length_equals_call_length_within_a_frame_per_minute() -> None:
    # One minute of a call over a lossy network (2 % loss, 2 frames of reordering the jitter
    # buffer has already undone), timestamps wrapping, with a key press every 6 s: muted
    # presses and presses alongside audio, alternately, some end packets lost.
    rng = random.Random(14)
    playout, out = Playout(), []
    base = 2**32 - 3000 * FRAME
    k = 0
    while k < 3000:
        now = k * 0.02 + rng.uniform(0, 0.04)
        ts = (base + k * FRAME) % 2**32
        press = k % 300
        if 100 <= press < 120:
            event = TelephoneEvent(
                k // 300 % 10, end=press == 119 and k % 600 < 300, duration=(press - 99) * FRAME
            )
            start = (base + (k - press + 100) * FRAME) % 2**32
            out += playout.event(SSRC, start, event, now)
            if k % 600 < 300:  # muted: no audio while the key is down
                k += 1
                continue
        if rng.random() < 0.02:
            playout.lost()
        else:
            out += playout.audio(SSRC, ts, speech(k), now)
        k += 1
    out += playout.finish(60.1)
    samples = sum(len(f.pcm) for f in out) // 2
    assert abs(samples - 60 * 8000) <= FRAME
    assert contiguous(out)
