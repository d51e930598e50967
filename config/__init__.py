"""Layer 0: typed settings and the data the service ships (menus, taxonomy, gazetteer)."""

from config.loader import ConfigError, load_settings
from config.settings import (
    AsrSettings,
    DraftingSettings,
    HttpSettings,
    IvrSettings,
    Settings,
    SipSettings,
    VadSettings,
)

__all__ = [
    "AsrSettings",
    "ConfigError",
    "DraftingSettings",
    "HttpSettings",
    "IvrSettings",
    "Settings",
    "SipSettings",
    "VadSettings",
    "load_settings",
]
