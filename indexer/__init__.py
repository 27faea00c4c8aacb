"""kb-assistant's domain library: load documents, chunk, embed, store and search them.

Data flow: ``loaders`` -> ``chunking`` -> ``embedding`` -> ``store`` -> ``search``.
``build.build_index`` runs the write side; ``search.Searcher`` is the read side used by the API,
the CLI and the eval harness. Nothing here loads a model or an index at import time.
"""

from indexer.errors import (
    DocumentLoadError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidQueryError,
    KBError,
    ModelIntegrityError,
    NotFoundError,
)
from indexer.settings import Settings, get_settings

__all__ = [
    "DocumentLoadError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "InvalidQueryError",
    "KBError",
    "ModelIntegrityError",
    "NotFoundError",
    "Settings",
    "get_settings",
]
