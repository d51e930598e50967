"""Fault benchmark: ``voice-intake serve`` under sipp calls while it is killed, its disk fills,
an ASR worker hangs or its database stalls.

Run ``.venv/bin/python -m bench.faults [--quick] [--only NAME]``; see :mod:`bench.faults.run`.
"""
