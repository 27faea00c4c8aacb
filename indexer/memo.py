"""What a long-running `kb index --watch` remembers from one build to the next.

A one-document edit still rebuilds the whole generation (BM25 statistics and the chunk table
depend on every document), but most of the work is re-deriving the same values from the same
inputs: parsing unchanged files, tokenising unchanged passages, finding their sentence windows.
A memo keyed by those inputs skips it (bench/PROFILE.md, re-index). A one-shot `kb index`
passes none; it still takes unchanged files' documents (by source hash) and unchanged
passages' BM25 terms and sentence windows from the current generation, which saves them for
that purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")


class RebuildMemo:
    """Values keyed by the inputs they were computed from, kept for one build after their last
    use: an entry the latest build did not ask for is dropped when the next one starts, so the
    memo holds about one knowledge base's worth and no more.

    Values are shared between builds, so callers must not mutate what they get back.
    """

    def __init__(self) -> None:
        self._now: dict[Hashable, object] = {}
        self._before: dict[Hashable, object] = {}
        self.hits = 0
        self.misses = 0

    def start_build(self) -> None:
        """Begin a build: what the previous build used stays available, older entries go."""
        self._before, self._now = self._now, {}
        self.hits = self.misses = 0

    def keep_unused(self) -> None:
        """This build stopped early (nothing had changed): keep what it did not ask for, so
        the next build still finds the last full build's values."""
        self._now.update(self._before)
        self._before = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key``, computed (and remembered) only when it is not known."""
        if key in self._now:
            self.hits += 1
            return self._now[key]  # type: ignore[return-value]
        if key in self._before:
            self.hits += 1
            value = self._before.pop(key)
        else:
            self.misses += 1
            value = compute()
        self._now[key] = value
        return value  # type: ignore[return-value]

    def forget(self, key: Hashable) -> None:
        """Drop ``key``: its value must be computed again next time (a transient failure)."""
        self._now.pop(key, None)
        self._before.pop(key, None)

    def __len__(self) -> int:
        return len(self._now) + len(self._before)


def remembered(memo: RebuildMemo | None, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, through ``memo`` when there is one."""
    return compute() if memo is None else memo.get(key, compute)
