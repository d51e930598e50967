"""IVR: menus as data, their validation, the pure runtime, the simulated caller's script
and analytics.

Drive a call with :func:`new_call` and :func:`step`; see :mod:`ivr.events` for what goes in
and comes out. Layer 1: imports only :mod:`config`, the stdlib and third-party libraries.
"""

from ivr.analytics import NodeStats, analytics
from ivr.errors import MenuError, MenuFormatError, PromptError, ValidationError
from ivr.loader import default_menu, load_menu
from ivr.model import Menu
from ivr.runtime import new_call, step
from ivr.schema import parse_menu
from ivr.speech import grammar_for, match_option
from ivr.state import CallState
from ivr.validate import validate

__all__ = [
    "CallState",
    "Menu",
    "MenuError",
    "MenuFormatError",
    "NodeStats",
    "PromptError",
    "ValidationError",
    "analytics",
    "default_menu",
    "grammar_for",
    "load_menu",
    "match_option",
    "new_call",
    "parse_menu",
    "step",
    "validate",
]
