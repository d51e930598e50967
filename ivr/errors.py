"""The IVR package's errors, all in one place.

- :class:`ValidationError` is a value, not an exception: one problem of a menu, naming
  the node. :func:`ivr.validate.validate` returns a list of them.
- :class:`MenuError` (a ``ValueError``) is the root of everything raised here:
  :class:`MenuFormatError` (the menu file is not a valid menu; carries the problems),
  :class:`PromptError` (a prompt could not be rendered or converted; the message is
  meant for the admin who uploaded the file).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationError:
    """One problem of a menu. ``node`` is ``None`` for menu-wide problems."""

    node: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"node '{self.node}'" if self.node is not None else "menu"
        return f"{where}: {self.message}"


class MenuError(ValueError):
    """Root of the IVR package's exceptions."""


class MenuFormatError(MenuError):
    """The menu data does not match the schema; ``errors`` lists every problem found."""

    def __init__(self, errors: list[ValidationError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors) or "invalid menu")


class PromptError(MenuError):
    """A prompt could not be rendered (TTS) or converted (broken or unsupported audio)."""


class MenuRuntimeError(MenuError):
    """The runtime met a menu that validation should have refused (e.g. an instant loop)."""
