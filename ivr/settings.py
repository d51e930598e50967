"""IVR settings live in :mod:`config.settings` (``Settings.ivr``, ``VOICE_INTAKE_IVR_*``)."""

from config.settings import IvrSettings

__all__ = ["IvrSettings"]
