"""SIP gateway benchmark: sipp load against one gateway process, beside the UDP ceiling.

Run ``.venv/bin/python -m bench.sip [--quick]``; see :mod:`bench.sip.run`.
"""
