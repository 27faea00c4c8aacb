"""Coverage gaps from real signals, for knowledge managers (pure: plain data in and out).

A search is a gap signal when it was unanswered (no result, or ``answerable`` false), answered
with low confidence (best passage similarity just above the threshold), or got negative
feedback. Signal queries are grouped into topics by average-link agglomerative clustering of
their embeddings (cosine, once what all of them share is taken out), each topic with counts per
signal, a daily trend, example questions and a label made of words its questions share.

Also here: documents no search has returned, and documents due for review: past their review
date, or with none and in force for over a year (superseded versions left out of both: nobody
should review or promote a retired version).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from indexer.search import not_in_force, retired, successor_ids, successor_map
from insights.querylog import NEGATIVE, latest_verdicts, unanswered

LOW_MARGIN = 0.05  # answered, but best similarity under threshold + this: low confidence
MAX_QUERIES = 800  # gap signals clustered at most (the latest ones): clustering is quadratic
# Chosen on the tune half of tests/gap_themes.py with the bundled model: with what all questions
# share taken out (question_similarity), 0.45 joins rephrasings that plain cosine at 0.5 kept
# apart, and topics are purer than before (tests/test_gap_topics_quality.py measures both).
CLUSTER_THRESHOLD = 0.45

STOPWORDS = set(
    """a an and are as at be by can do does for from how i if in into is it its me my no not of
    on or our should so that the their them there they this to was we what when where which who
    why will with you your user users agent customer can't cant dont don't get got has have
    need needs want wants still after before about any been being did just than then too us
    via per also ask asks asked said says tell know yes between many much more most some
    other only each every both all one two three out same""".split()
)  # function words: a topic named "coins / between / accounts" is read as three subjects
# A word starts with a letter of any script ("réembolso", "münzen"): an ASCII-only class cut
# "rückerstattung" into "ckerstattung"; a trailing apostrophe or hyphen is no part of it.
_WORD = re.compile(r"[^\W\d_](?:[\w+'-]*[\w+])?")
LABEL_CHARS = 70  # the longest label; a longer question is cut at a word boundary
_PLACEHOLDER = re.compile(r"#?\[[A-Z]+\]")
# "user [EMAIL] asks:", "ticket #[TICKET]:", "[HANDLE] says" - who asked, not what was asked.
_PASTE_PREFIX = re.compile(
    r"^\s*(?:(?:user|customer|cust|buyer|seller|creator)\s+)?(?:#?\[[A-Z]+\])\s*"
    r"(?:asks|says|writes|wants)?\s*[:,-]?\s*"
    r"|^\s*(?:ticket|order|case)\s+#?\[[A-Z]+\]\s*[:,-]?\s*"
    r"|^\s*(?:cust|customer|user)\s+called\s+from\s+\[PHONE\]\s*[:,-]?\s*",
    re.IGNORECASE,
)


def signal_reasons(
    search: dict[str, Any], threshold: float, low_margin: float = LOW_MARGIN
) -> list[str]:
    """Why one logged search points at a gap (empty when it does not)."""
    reasons = []
    if unanswered(search):
        reasons.append("unanswered")
    elif search.get("confidence") is not None and search["confidence"] < threshold + low_margin:
        reasons.append("low_confidence")
    if any(f["rating"] in NEGATIVE for f in latest_verdicts(search.get("feedback", []))):
        reasons.append("negative_feedback")
    return reasons


def _unit(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms == 0, 1, norms)


def question_similarity(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of questions, lowered where two are alike only in what all share.

    Every gap question leans the same way (the product's name, "user asks can ..."), so two
    questions alike only in that ("does vybe accept ...", "does vybe shop offer ...") looked as
    close as two on one subject. The mean vector is removed (common component removal) and the
    result mapped back to cosine units, ``c + (1 - c) * cos`` with ``c`` the mean's squared
    length (the average pairwise cosine), so a threshold means what it meant before.

    A pair never comes out more alike than its plain cosine: in a small set, removing the mean
    makes two questions look alike for both lacking what the others share (two questions
    without "zebra" among three with it), and only separating is what removal is for.
    """
    v = _unit(vectors)
    if len(v) == 0:
        return np.zeros((0, 0))
    mean = v.mean(axis=0)
    common = float(mean @ mean)
    rest = _unit(v - mean)
    return np.minimum(v @ v.T, common + (1 - common) * (rest @ rest.T))


def average_link(sim: np.ndarray, threshold: float) -> np.ndarray:
    """Average-link clustering of a similarity matrix; merge while the best pair is >= threshold.

    Returns a cluster label per row (0..k-1, largest cluster first).
    """
    n = len(sim)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sim = np.array(sim, dtype=np.float64)
    np.fill_diagonal(sim, -np.inf)
    size = np.ones(n)
    alive = np.ones(n, dtype=bool)
    members: list[list[int]] = [[i] for i in range(n)]
    while alive.sum() > 1:
        flat = int(np.argmax(sim))
        i, j = divmod(flat, n)
        if sim[i, j] < threshold:
            break
        # Lance-Williams update for average linkage: the merged cluster lives in row i.
        merged = (size[i] * sim[i] + size[j] * sim[j]) / (size[i] + size[j])
        sim[i], sim[:, i] = merged, merged
        sim[i, i] = -np.inf
        sim[j], sim[:, j] = -np.inf, -np.inf
        size[i] += size[j]
        alive[j] = False
        members[i] += members[j]
        members[j] = []
    groups = sorted((m for m in members if m), key=lambda m: (-len(m), min(m)))
    labels = np.empty(n, dtype=np.int64)
    for label, group in enumerate(groups):
        labels[group] = label
    return labels


def agglomerative(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Average-link clustering on plain cosine similarity (:func:`average_link`)."""
    v = _unit(vectors)
    return average_link(v @ v.T, threshold)


def strip_placeholders(text: str) -> str:
    """The question without redaction placeholders and the paste boilerplate around them."""
    text = _PASTE_PREFIX.sub("", text)
    return " ".join(_PLACEHOLDER.sub(" ", text).split())


def keywords(texts: Sequence[str], k: int = 3, min_texts: int = 1) -> list[str]:
    """The content words most questions of a topic share (placeholders left out), each in at
    least ``min_texts`` of them.

    Ties go to the word met first, never to set order, which changes with each process's
    string hashing (a topic's label would change from one API start to the next).
    """
    counts: Counter[str] = Counter()
    for text in texts:
        clean = strip_placeholders(text).lower()
        words = (w for w in _WORD.findall(clean) if w not in STOPWORDS and len(w) > 2)
        counts.update(dict.fromkeys(words).keys())  # once per text; ties in first-seen order
    return [w for w, n in counts.most_common() if n >= min_texts][:k]


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` in at most ``limit`` characters, cut after a whole word and marked with "…"
    (a label cut mid-word, "... handbag a", reads as a different question)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if not text[limit - 1].isspace() and " " in head:
        head = head.rsplit(" ", 1)[0]  # the last word did not fit whole
    return head.rstrip(" ,;:-/(") + "…"


def gap_topics(
    searches: list[dict[str, Any]],
    embed: Callable[[list[str]], np.ndarray],
    threshold: float,
    low_margin: float = LOW_MARGIN,
    cluster_threshold: float = CLUSTER_THRESHOLD,
    max_queries: int = MAX_QUERIES,
    examples: int = 5,
) -> list[dict[str, Any]]:
    """Gap signals grouped into topics, biggest first (of equal ones, the least answered)."""
    signals = []
    for s in searches:
        reasons = signal_reasons(s, threshold, low_margin)
        if reasons:
            signals.append((s, reasons))
    signals = signals[-max_queries:]
    if not signals:
        return []
    # "user [EMAIL] asks: X" and "X" are one question: cluster and count what was asked.
    asked = {s["search_id"]: strip_placeholders(s["query"]) or s["query"] for s, _ in signals}
    texts = sorted(set(asked.values()))
    vectors = np.asarray(embed(texts), dtype=np.float64)
    clusters = average_link(question_similarity(vectors), cluster_threshold)
    labels_by_text = dict(zip(texts, clusters, strict=True))
    row_of = {t: i for i, t in enumerate(texts)}
    topics: dict[int, dict[str, Any]] = {}
    for s, reasons in signals:
        question = asked[s["search_id"]]
        label = int(labels_by_text[question])
        t = topics.setdefault(
            label,
            {
                "topic_id": label,
                "count": 0,
                "unanswered": 0,
                "low_confidence": 0,
                "negative_feedback": 0,
                "queries": Counter(),
                "trend": Counter(),
                "docs": Counter(),
                "first_seen": s["ts"],
                "last_seen": s["ts"],
            },
        )
        t["count"] += 1
        for reason in reasons:
            t[reason] += 1
        t["queries"][question] += 1
        t["trend"][s["ts"][:10]] += 1
        if s["results"]:
            t["docs"][s["results"][0]["doc_id"]] += 1
        t["first_seen"] = min(t["first_seen"], s["ts"])
        t["last_seen"] = max(t["last_seen"], s["ts"])
    out = []
    for t in topics.values():
        queries: Counter[str] = t.pop("queries")
        rows = [row_of[q] for q in queries]
        centre = vectors[rows].mean(axis=0)
        central = sorted(queries, key=lambda q: -float(vectors[row_of[q]] @ centre))
        # Only words two questions share: "vybe / accept / bitcoin" named a topic after one of
        # its questions, and read as if all of them were about bitcoin.
        words = keywords(list(queries), min_texts=min(2, len(queries)))
        single = len(queries) == 1 or not words  # one question says it better than keywords
        t["label"] = shorten(central[0]) if single else " / ".join(words)
        t["keywords"] = words
        t["examples"] = central[:examples]
        t["distinct_queries"] = len(queries)
        t["trend"] = dict(sorted(t["trend"].items()))
        t["closest_docs"] = [d for d, _ in t.pop("docs").most_common(3)]
        out.append(t)
    # The worst first: the most searches, then (a tie) the most left without any answer, then
    # the most that agents said failed them; only then the label (alphabetical is no rank).
    out.sort(key=lambda t: (-t["count"], -t["unanswered"], -t["negative_feedback"], t["label"]))
    for rank, t in enumerate(out, start=1):
        t["topic_id"] = rank
    return out


def _versions_where(
    documents: list[dict[str, Any]],
    today: dt.date | None,
    rule: Callable[[dict[str, Any], list[dict[str, Any]], str], bool],
) -> set[str]:
    """Ids of documents for which ``rule(metadata, successors, as of)`` holds on ``today``."""
    as_of = (today or dt.date.today()).isoformat()
    docs = [(d["doc_id"], d.get("metadata") or {}) for d in documents]
    successors = successor_map(docs)
    return {doc_id for doc_id, meta in docs if rule(meta, successors[doc_id], as_of)}


def superseded(documents: list[dict[str, Any]], today: dt.date | None = None) -> set[str]:
    """Ids of documents that are retired versions on ``today`` (:func:`indexer.search.retired`,
    the rule search uses to stop answering them)."""
    return _versions_where(documents, today, retired)


def out_of_force(
    documents: list[dict[str, Any]],
    today: dt.date | None = None,
    every: list[dict[str, Any]] | None = None,
) -> dict[str, str]:
    """Why each version search does not serve on ``today`` is not in force, in the words its
    citations use (:func:`indexer.search.not_in_force`), by id; versions in force left out.

    A version retired by its successor's ``supersedes`` alone still says "active" in its own
    status field: listed with include_superseded, it read as a live policy. ``every``: all
    indexed documents, when ``documents`` are those a caller may see; search retires a version
    whoever may see its successor, which is then named only as outside their access groups.
    """
    as_of = (today or dt.date.today()).isoformat()
    seen = {d["doc_id"] for d in documents}
    docs = [(d["doc_id"], d.get("metadata") or {}) for d in every or documents]
    by_id, newer = dict(docs), successor_ids(docs)
    whys = {
        doc_id: not_in_force(
            by_id[doc_id],
            [by_id[n] for n in newer[doc_id]],
            as_of,
            hidden=not set(newer[doc_id]) <= seen,
        )
        for doc_id in seen
        if doc_id in by_id
    }
    return {doc_id: why for doc_id, why in whys.items() if why}


def never_retrieved(
    documents: list[dict[str, Any]],
    searches: list[dict[str, Any]],
    today: dt.date | None = None,
    include_superseded: bool = False,
) -> list[dict[str, Any]]:
    """Documents no logged search has returned, in any rank.

    Superseded versions, and versions not in force yet, are left out unless
    ``include_superseded``: search does not serve them on purpose, so their silence is no gap
    to fix (a version effective next month would be listed until the day it starts).
    """
    seen = {r["doc_id"] for s in searches for r in s["results"]}
    return not_retrieved(documents, seen, today, include_superseded)


def not_retrieved(
    documents: list[dict[str, Any]],
    retrieved: set[str],
    today: dt.date | None = None,
    include_superseded: bool = False,
    every: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`never_retrieved` from the ids of the documents searches returned (what the
    query log can count without decoding every search); ``every`` as in
    :func:`out_of_force`."""
    why = out_of_force(documents, today, every)
    return [
        {
            "doc_id": d["doc_id"],
            "title": d["title"],
            "doc_type": d["metadata"].get("doc_type"),
            "owner_team": d["metadata"].get("owner_team"),
            "status": d["metadata"].get("status"),
            "not_in_force": why.get(d["doc_id"], ""),
        }
        for d in documents
        if d["doc_id"] not in retrieved and (include_superseded or d["doc_id"] not in why)
    ]


REVIEW_EVERY = dt.timedelta(days=365)  # a document with no review date: due a year in force


def _date(raw: Any) -> dt.date | None:
    """An ISO date from front matter (a date, or text starting with one); None if unreadable."""
    try:
        return dt.date.fromisoformat(str(raw)[:10]) if raw else None
    except ValueError:
        return None


def review_due(metadata: dict[str, Any], today: dt.date) -> tuple[dt.date, str] | None:
    """When a document fell due for review and why, if it has by ``today``.

    A document with no review date used to be never due, so a policy nobody scheduled a review
    for stayed invisible forever; it is due once it has been in force for a year. One with no
    date at all is due now: nobody can tell when it was written or last checked (listed after
    the overdue ones, 0 days, as there is nothing to count from).
    """
    review = _date(metadata.get("review_date"))
    if review:
        return (review, "review date passed") if review < today else None
    effective = _date(metadata.get("effective_date"))
    if effective is None:
        return today, "no review date and no effective date: when it was last checked is unknown"
    if today - effective <= REVIEW_EVERY:
        return None
    reason = f"no review date; effective {effective.isoformat()}, over a year ago"
    return effective + REVIEW_EVERY, reason


def past_review(
    documents: list[dict[str, Any]],
    today: dt.date | None = None,
    include_superseded: bool = False,
    every: list[dict[str, Any]] | None = None,
) -> list[dict]:
    """Documents due for review, most overdue first (:func:`review_due`): their
    ``review_date`` has passed, or they have none and took effect over a year ago.

    Superseded versions are left out unless ``include_superseded``: their review dates lapse
    by design, so they would otherwise top the list as the "most overdue". ``every`` as in
    :func:`out_of_force`.
    """
    today = today or dt.date.today()
    retired_ids = set() if include_superseded else superseded(every or documents, today)
    why = out_of_force(documents, today, every) if include_superseded else {}
    out = []
    for d in documents:
        if d["doc_id"] in retired_ids:
            continue
        meta = d["metadata"]
        due = review_due(meta, today)
        if due is None:
            continue
        since, reason = due
        review = _date(meta.get("review_date"))
        out.append(
            {
                "doc_id": d["doc_id"],
                "title": d["title"],
                "review_date": review.isoformat() if review else None,
                "days_overdue": (today - since).days,
                "owner_team": meta.get("owner_team"),
                "status": meta.get("status"),
                "reason": reason,
                "not_in_force": why.get(d["doc_id"], ""),
            }
        )
    return sorted(out, key=lambda r: -r["days_overdue"])


def document_feedback(searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per document version: how often results from it were rated, by rating (worst first)."""
    titles: dict[str, str] = {}
    versions: dict[tuple[str, str], str | None] = {}
    for s in searches:
        for r in s["results"]:
            titles.setdefault(r["doc_id"], r.get("title", ""))
            versions[(s["search_id"], r["chunk_id"])] = r.get("version")
    verdicts = latest_verdicts(f for s in searches for f in s.get("feedback", []))
    return feedback_by_document(verdicts, titles, versions)


COMMENTS_SHOWN = 5  # a document's latest comments listed with its ratings


def feedback_by_document(
    verdicts: list[dict[str, Any]],
    titles: dict[str, str],
    versions: dict[tuple[str, str], str | None] | None = None,
) -> list[dict[str, Any]]:
    """:func:`document_feedback` from the latest verdicts, the rated documents' titles and the
    version each rated passage had (:meth:`QueryLog.rated_results`).

    One row per document and version: "wrong or outdated" said of v2.0 is about v2.0, and must
    not stay on the list as if said of v2.1, the version that fixed it.
    """
    versions = versions or {}
    table: dict[tuple[str, str | None], Counter[str]] = {}
    said: dict[tuple[str, str | None], list[str]] = {}
    for f in verdicts:
        if f.get("doc_id"):
            key = (f["doc_id"], versions.get((f["search_id"], f.get("chunk_id"))))
            table.setdefault(key, Counter())[f["rating"]] += 1
            if (f.get("comment") or "").strip():
                said.setdefault(key, []).append(f["comment"].strip())
    rows = [
        {
            "doc_id": doc,
            "title": titles.get(doc, ""),
            "version": version,
            "helpful": c["helpful"],
            "not_helpful": c["not_helpful"],
            "wrong_or_outdated": c["wrong_or_outdated"],
            # what agents wrote, latest first: "the counterfeit SOP says 14 days" names the
            # fix a count cannot
            "comments": said.get((doc, version), [])[::-1][:COMMENTS_SHOWN],
        }
        for (doc, version), c in table.items()
    ]
    return sorted(
        rows,
        key=lambda r: (-r["wrong_or_outdated"], -r["not_helpful"], r["doc_id"], r["version"] or ""),
    )


def summary(
    searches: list[dict[str, Any]], threshold: float, low_margin: float = LOW_MARGIN
) -> dict:
    """Headline counts for the knowledge-manager page."""
    reasons = Counter(
        r
        for s in searches
        for r in signal_reasons(s, threshold, low_margin)
        if r != "negative_feedback"
    )
    stats = {
        "searches": len(searches),
        "unanswered": reasons["unanswered"],
        "low_confidence": reasons["low_confidence"],
        "first": searches[0]["ts"] if searches else None,
        "last": searches[-1]["ts"] if searches else None,
    }
    return summary_of(stats, latest_verdicts(f for s in searches for f in s.get("feedback", [])))


def summary_of(stats: dict[str, Any], verdicts: list[dict[str, Any]]) -> dict:
    """:func:`summary` from the window's counts (:meth:`QueryLog.search_stats`) and its latest
    verdicts: a search with any negative verdict counts once as negative feedback."""
    negative = {f["search_id"] for f in verdicts if f["rating"] in NEGATIVE}
    return {
        "searches": stats["searches"],
        "unanswered": stats["unanswered"],
        "low_confidence": stats["low_confidence"],
        "negative_feedback": len(negative),
        "feedback": dict(Counter(f["rating"] for f in verdicts)),
        "first": stats["first"],
        "last": stats["last"],
    }
