"""What the command line shares with its subcommands: the usage error and JSON output.

Kept apart from ``voice_gateway.cli`` so that ``python -m voice_gateway.cli`` (where the
module runs as ``__main__``) and the subcommands agree on one ``UsageError`` class.
"""

from __future__ import annotations

import json
import sys
from typing import Any


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()
