"""Header fields: an ordered case-insensitive multi-map, and the structured values we read.

``Headers`` keeps fields in arrival order under their canonical names (compact forms
expanded). Structured values (:class:`SipUri`, :class:`NameAddress`, :class:`Via`,
:class:`CSeq`) parse with ``X.parse(text)``, raise ``ValueError`` on bad input, and
serialize back with ``str()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from voice_gateway.sip import grammar


class Headers:
    """Ordered, case-insensitive multi-map of header fields."""

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str]] = []
        for name, value in fields:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append a field (after any existing fields of the same name)."""
        self._fields.append((grammar.canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every field called ``name`` with a single one, kept in place."""
        canonical = grammar.canonical_name(name)
        lower = canonical.lower()
        for index, (existing, _) in enumerate(self._fields):
            if existing.lower() == lower:
                self._fields[index] = (canonical, value)
                self._fields = [
                    f for i, f in enumerate(self._fields) if i <= index or f[0].lower() != lower
                ]
                return
        self._fields.append((canonical, value))

    def remove(self, name: str) -> None:
        """Remove every field called ``name``."""
        lower = grammar.canonical_name(name).lower()
        self._fields = [f for f in self._fields if f[0].lower() != lower]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name`` (a list header's first field, unsplit)."""
        lower = grammar.canonical_name(name).lower()
        for existing, value in self._fields:
            if existing.lower() == lower:
                return value
        return default

    def fields(self, name: str) -> list[str]:
        """Every field value of ``name`` as received (no comma splitting)."""
        lower = grammar.canonical_name(name).lower()
        return [value for existing, value in self._fields if existing.lower() == lower]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``; list headers (Via, Contact ...) are split on commas."""
        values = self.fields(name)
        if grammar.canonical_name(name).lower() not in grammar.LIST_HEADERS:
            return values
        return [item for value in values for item in grammar.split_list(value)]

    def copy(self) -> Headers:
        """A shallow copy."""
        clone = Headers()
        clone._fields = list(self._fields)
        return clone

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._fields))

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"


def _format_params(params: dict[str, str | None]) -> str:
    out = []
    for name, value in params.items():
        if value is None:
            out.append(f";{name}")
        elif grammar.TOKEN_RE.fullmatch(value) or _is_hostlike(value):
            out.append(f";{name}={value}")
        else:
            out.append(f";{name}={grammar.quote(value)}")
    return "".join(out)


def _is_hostlike(value: str) -> bool:
    return all(c.isalnum() or c in "-.:[]" for c in value)


@dataclass
class SipUri:
    """A ``sip:``/``sips:`` URI, or any other absolute URI kept opaque (``tel:``, ``urn:``)."""

    scheme: str
    host: str = ""
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str | None = None
    opaque: str | None = None

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a URI; raise ``ValueError`` if it is not one."""
        match = grammar.SIP_URI_RE.fullmatch(text)
        if match is not None:
            port = int(match["port"]) if match["port"] else None
            if port is not None and not 0 < port < 65536:
                raise ValueError("port out of range")
            params = grammar.split_params(match["params"]) if match["params"] else {}
            return cls(
                scheme=match["scheme"].lower(),
                host=match["host"],
                user=match["user"],
                password=match["password"],
                port=port,
                params=params,
                headers=match["headers"],
            )
        generic = grammar.URI_SCHEME_RE.fullmatch(text)
        if generic is None or generic["scheme"].lower() in ("sip", "sips"):
            raise ValueError("malformed URI")
        return cls(scheme=generic["scheme"].lower(), opaque=generic["rest"])

    def __str__(self) -> str:
        if self.opaque is not None:
            return f"{self.scheme}:{self.opaque}"
        out = f"{self.scheme}:"
        if self.user is not None:
            out += self.user
            if self.password is not None:
                out += f":{self.password}"
            out += "@"
        out += self.host
        if self.port is not None:
            out += f":{self.port}"
        out += _format_params(self.params)
        if self.headers is not None:
            out += f"?{self.headers}"
        return out


@dataclass
class NameAddress:
    """``name-addr`` or ``addr-spec`` plus header parameters (From, To, Contact, Route)."""

    uri: SipUri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddress:
        """Parse a From/To/Contact/Route value; raise ``ValueError`` if malformed."""
        match = grammar.NAME_ADDR_RE.fullmatch(text)
        display: str | None = None
        if match is not None:
            raw_display = match["display"].strip()
            if raw_display.startswith('"'):
                display = grammar.unquote(raw_display)
            elif raw_display:
                display = " ".join(raw_display.split())
        else:
            match = grammar.ADDR_SPEC_RE.fullmatch(text)
            if match is None:
                raise ValueError("malformed name-addr")
        uri = SipUri.parse(match["uri"])
        params = grammar.split_params(match["params"])
        return cls(uri=uri, display_name=display, params=params)

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter."""
        return self.params.get("tag")

    def __str__(self) -> str:
        out = f"<{self.uri}>"
        if self.display_name:
            out = f"{grammar.quote(self.display_name)} {out}"
        return out + _format_params(self.params)


@dataclass
class Via:
    """One ``via-parm``: ``SIP/2.0/UDP host:port;branch=...``."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one Via value (already split from a comma list)."""
        match = grammar.VIA_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError("malformed Via")
        port = int(match["port"]) if match["port"] else None
        if port is not None and not 0 < port < 65536:
            raise ValueError("Via port out of range")
        return cls(
            protocol=f"{match['name'].upper()}/{match['version']}",
            transport=match["transport"].upper(),
            host=match["host"],
            port=port,
            params=grammar.split_params(match["params"]),
        )

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter (RFC 3261 transaction id when it starts z9hG4bK)."""
        return self.params.get("branch")

    @property
    def sent_by(self) -> str:
        """``host[:port]`` as used to match transactions."""
        return f"{self.host.lower()}:{self.port or 5060}"

    def __str__(self) -> str:
        out = f"{self.protocol}/{self.transport} {self.host}"
        if self.port is not None:
            out += f":{self.port}"
        return out + _format_params(self.params)


@dataclass(frozen=True)
class CSeq:
    """``CSeq: 1 INVITE``."""

    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        """Parse a CSeq value; the number must be below 2**31 (RFC 3261 §8.1.1.5)."""
        match = grammar.CSEQ_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError("malformed CSeq")
        number = int(match["number"])
        if number >= 2**31:
            raise ValueError("CSeq number too large")
        return cls(number, match["method"])

    def __str__(self) -> str:
        return f"{self.number} {self.method}"
