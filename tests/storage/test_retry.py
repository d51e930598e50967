"""Retried writes on the call path (storage.retry.with_retries)."""

from __future__ import annotations

import errno
import logging
import time

import pytest
from sqlalchemy.exc import OperationalError

from storage import StorageStalled, with_retries

PHONE = "13811223344"


class FlakyWrite:
    """Fails with the given errors in turn, then returns "stored"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls: list[float] = []

    async def __call__(self) -> str:
        self.calls.append(time.monotonic())
        if self.errors:
            raise self.errors.pop(0)
        return "stored"


def _locked() -> OperationalError:
    # A driver error quotes the statement and its parameters: personal data.
    return OperationalError("INSERT INTO calls (caller_number) VALUES (?)", (PHONE,),
                            Exception("database is locked"))


async def test_a_write_that_fails_twice_is_stored_on_the_third_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    op = FlakyWrite(_locked(), OSError(errno.EIO, "Input/output error"))
    with caplog.at_level(logging.WARNING, logger="storage.retry"):
        assert await with_retries(op, delay_s=0.02, what="utterance") == "stored"
    assert len(op.calls) == 3
    first_wait, second_wait = op.calls[1] - op.calls[0], op.calls[2] - op.calls[1]
    assert first_wait >= 0.02 and second_wait >= 0.04  # backing off
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and all("utterance" in m for m in messages)
    assert "OperationalError" in messages[0] and "OSError" in messages[1]


async def test_the_last_error_is_raised_after_the_last_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    last = _locked()
    op = FlakyWrite(_locked(), _locked(), _locked(), last)
    with caplog.at_level(logging.WARNING, logger="storage.retry"), \
            pytest.raises(OperationalError) as raised:
        await with_retries(op, attempts=4, delay_s=0.001, what="draft")
    assert raised.value is last and len(op.calls) == 4
    assert len(caplog.records) == 4 and caplog.records[-1].levelno == logging.ERROR
    assert all(PHONE not in r.getMessage() and r.exc_info is None for r in caplog.records)


async def test_other_errors_and_a_spent_deadline_are_not_retried() -> None:
    for error in (ValueError("a bug"), StorageStalled("not stored within 2 s")):
        op = FlakyWrite(error)
        with pytest.raises(type(error)):
            await with_retries(op, delay_s=0.001, what="call")
        assert len(op.calls) == 1


async def test_one_attempt_is_no_retry_and_none_is_an_error() -> None:
    op = FlakyWrite(_locked())
    with pytest.raises(OperationalError):
        await with_retries(op, attempts=1, what="call")
    assert len(op.calls) == 1
    with pytest.raises(ValueError):
        await with_retries(FlakyWrite(), attempts=0, what="call")
