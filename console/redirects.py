"""Where a login may send the browser: same-origin absolute paths only (OWASP ASVS V5.1.5).

``next`` must start with a single ``/``, and neither it nor its percent-decoded forms may
hold a backslash, a control or space character, a second leading slash, a scheme or a host:
browsers read ``/\\host``, ``/\\thost`` and ``//host`` as another site.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

DEFAULT_NEXT = "/queue"
MAX_NEXT = 2048
_DECODE_ROUNDS = 4  # /%25255C… is decoded at most this often before it is refused


def _plain(text: str) -> bool:
    return not any(c == "\\" or c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0
                   for c in text)


def _plain_path(candidate: str) -> bool:
    if not candidate.startswith("/") or candidate.startswith("//"):
        return False
    parts = urlsplit(candidate)
    return not parts.scheme and not parts.netloc and _plain(parts.path)


def safe_next(raw: object, default: str = DEFAULT_NEXT) -> str:
    """``raw`` when it is a same-origin absolute path, else ``default``. The raw text must
    be plain throughout; its decoded forms in the path (where a browser looks for a host)."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_NEXT or not _plain(raw):
        return default
    candidate = raw
    for _ in range(_DECODE_ROUNDS):
        if not _plain_path(candidate):
            return default
        decoded = unquote(candidate)
        if decoded == candidate:
            return raw
        candidate = decoded
    return default
