"""Run a parser in a child process with a wall-clock timeout and a memory cap.

PDF and DOCX parsers decompress attacker-controlled data; pypdf's own security notes leave
denial of service (endless loops, decompression bombs) to the caller, and a try/except does not
stop a hang. A forked child that is killed on time, or dies on its memory cap, turns each of
those into a reported skip reason while the batch goes on.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass

from indexer.loaders.common import Parsed, ParseError, ParseLimitError


@dataclass(frozen=True)
class ParseLimits:
    """Per-file bounds for isolated parsing."""

    timeout_s: float = 60.0
    memory_mb: int = 1024


def _vm_size_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _name_records(name: str) -> None:
    """Prefix every log record of this (child) process with the file it parses: a parser's
    own warning ("EOF marker not found") means nothing without the file it is about."""
    make = logging.getLogRecordFactory()

    def named(*args, **kwargs) -> logging.LogRecord:
        record = make(*args, **kwargs)
        # a '%' in the file name must not be read as a placeholder of the message's arguments
        prefix = name.replace("%", "%%") if record.args else name
        record.msg = f"{prefix}: {record.msg}"
        return record

    logging.setLogRecordFactory(named)


def _child(
    parser: Callable[[bytes], Parsed], data: bytes, conn, memory_mb: int, name: str = ""
) -> None:
    if name:
        _name_records(name)
    try:
        # The cap is on top of what the child inherited from its parent at fork time.
        cap = _vm_size_bytes() + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        try:
            conn.send(("ok", parser(data)))
        except ParseError as exc:
            conn.send(("parse", str(exc)))
        except MemoryError:
            conn.send(("memory", f"exceeded the {memory_mb} MB memory cap while parsing"))
        except RecursionError:
            conn.send(("parse", "malformed file (recursive structure)"))
        except Exception as exc:  # any parser failure is this file's problem, not the batch's
            conn.send(("parse", f"malformed file ({type(exc).__name__}: {exc})"[:300]))
    except MemoryError:
        pass  # nothing could be sent; the parent reports the lost child
    finally:
        conn.close()
        os._exit(0)


def parse_isolated(
    parser: Callable[[bytes], Parsed], data: bytes, limits: ParseLimits, name: str = ""
) -> Parsed:
    """``parser(data)`` in a forked child; ParseError on timeout, memory cap or crash.

    ``name`` (the file) prefixes whatever the parser logs from the child.
    """
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child, args=(parser, data, send, limits.memory_mb, name), daemon=True
    )
    process.start()
    send.close()
    try:
        if not receive.poll(limits.timeout_s):
            raise ParseLimitError(f"parsing took longer than {limits.timeout_s:g}s and was stopped")
        try:
            kind, payload = receive.recv()
        except (EOFError, OSError, MemoryError) as exc:
            raise ParseLimitError(
                f"the parser died (memory cap of {limits.memory_mb} MB or a crash)"
            ) from exc
    finally:
        receive.close()
        if process.is_alive():
            process.kill()
        process.join(5)
    if kind == "ok":
        return payload
    raise (ParseLimitError if kind == "memory" else ParseError)(payload)
