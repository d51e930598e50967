"""G.711 μ-law / A-law through audioop (stdlib up to 3.12, the audioop-lts package after)."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # Deprecated in 3.11-3.12 only; on 3.13+ the audioop-lts package provides it silently.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

__all__ = ["alaw_to_pcm", "audioop", "pcm_to_alaw", "pcm_to_ulaw", "ulaw_to_pcm"]


def ulaw_to_pcm(data: bytes) -> bytes:
    return audioop.ulaw2lin(data, 2)


def alaw_to_pcm(data: bytes) -> bytes:
    return audioop.alaw2lin(data, 2)


def pcm_to_ulaw(pcm: bytes) -> bytes:
    return audioop.lin2ulaw(pcm, 2)


def pcm_to_alaw(pcm: bytes) -> bytes:
    return audioop.lin2alaw(pcm, 2)
