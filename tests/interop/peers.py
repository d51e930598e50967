"""Shared pieces of the interop suite: finding the real peers (Debian binaries), loopback
addresses of their own, and small SIP helpers for messages we craft or read back."""

from __future__ import annotations

import os
import random
import re
import shutil
import socket

import pytest

# scripts/test sets this: there a missing peer is a failure, not a skip.
REQUIRE_ENV = "VOICE_INTAKE_REQUIRE_INTEROP"


def require_binary(path: str) -> str:
    """``path`` if it is an installed executable; else skip (or fail under REQUIRE_ENV)."""
    found = path if os.access(path, os.X_OK) else shutil.which(os.path.basename(path))
    if found:
        return found
    message = f"{path} is not installed (Debian package for the interop suite)"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{message}, and {REQUIRE_ENV} is set")
    pytest.skip(message)


def loopback_address(ports: tuple[int, ...] = ()) -> str:
    """A random 127.x.y.z address whose ``ports`` are free for UDP and TCP: a peer of its
    own on loopback, so fixed ports (5060) do not collide with other tests."""
    for _ in range(50):
        host = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(2, 254)}"
        try:
            for port in ports:
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(socket.AF_INET, kind) as s:
                        s.bind((host, port))
        except OSError:
            continue
        return host
    raise RuntimeError("no free loopback address")


_HEADER = re.compile(rb"^([!-9;-~]+)[ \t]*:[ \t]*(.*)$")
COMPACT = {b"i": b"call-id", b"v": b"via", b"f": b"from", b"t": b"to", b"l": b"content-length"}


def status_of(message: bytes) -> int | None:
    """The status code of a response, None for a request."""
    match = re.match(rb"SIP/2\.0 (\d{3}) ", message)
    return int(match.group(1)) if match else None


def header(message: bytes, name: str) -> str | None:
    """The first value of header ``name`` (long or compact form) in the head of ``message``."""
    head = message.split(b"\r\n\r\n", 1)[0]
    wanted = name.lower().encode()
    for line in head.split(b"\r\n")[1:]:
        match = _HEADER.match(line)
        if match is None:
            continue
        key = match.group(1).lower()
        if COMPACT.get(key, key) == wanted:
            return match.group(2).decode("utf-8", "replace").strip()
    return None
