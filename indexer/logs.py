"""Warnings a stage logged, kept to be shown again where its user looks: the end of a long
`kb index` (they scroll away above the bars), or an evaluation run's result on the API (they
reached only the server's log)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def warnings_kept(
    logger_name: str, keep: Callable[[logging.LogRecord], bool] = lambda _: True
) -> Iterator[list[str]]:
    """The messages of WARNING and above that ``logger_name`` (and its children) log while
    this lasts, those ``keep`` accepts, in order."""
    kept: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if keep(record):
                kept.append(record.getMessage())

    handler = Keep(logging.WARNING)
    target = logging.getLogger(logger_name)
    target.addHandler(handler)
    try:
        yield kept
    finally:
        target.removeHandler(handler)
