"""The real embedder, as an operator's service user meets it: a model cache it may not write."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.embedding import Embedder
from indexer.errors import KBError


def test_a_model_cache_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    """KB_MODEL_CACHE_DIR the user may not write (var/ made by another user) raised a bare
    PermissionError out of the int8 export: the API's start-up ended in that traceback."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")  # as root, permissions stop nothing: a path under a file does
    embedder = Embedder(cache_dir=blocker / "models")
    with pytest.raises(KBError, match="KB_MODEL_CACHE_DIR") as refused:
        embedder.warm_up()
    assert str(blocker) in str(refused.value)
