"""Seed the query log with realistic agent traffic over kb/, through the running API.

    .venv/bin/python scripts/seed_searches.py --api-url http://127.0.0.1:8000 [-n 200]

Questions come from kb/queries.jsonl (answerable and unanswerable), some written the way agents
paste them (with e-mail addresses, order ids and @handles, which the API redacts before
storing), plus a few themes the knowledge base does not cover. About a third of the searches
get feedback, decided by the labels: "helpful" when the first result is a labelled document,
"not helpful" or "wrong or outdated" otherwise. Deterministic for a given --seed.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
PREFIXES = [
    "",
    "",
    "",
    "user {email} asks: ",
    "ticket #{ticket}: ",
    "@{handle} says ",
    "order #{order} - ",
    "cust called from +44 7700 9{phone} - ",
]
# Themes the knowledge base does not cover, as agents ask them (gaps a manager should see).
UNCOVERED = [
    "can users pay for coins with crypto",
    "does vybe accept bitcoin for coin purchases",
    "crypto wallet payout for creators possible?",
    "creator wants payouts in USDT crypto",
    "is there a family plan for vybe+",
    "vybe+ family sharing with kids accounts",
    "can two people share one vybe+ subscription",
    "how to transfer coins between two accounts",
    "user wants to send coins to a friend's account directly",
    "karaoke songs copyright on LIVE, are they licensed",
    "can creators sing cover songs on LIVE without a strike",
]

logger = logging.getLogger("seed_searches")


def _questions() -> tuple[list[dict], dict[str, set[str]]]:
    rows = [
        json.loads(line)
        for line in (REPO / "kb" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    qrels: dict[str, set[str]] = {}
    for line in (REPO / "kb" / "qrels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, doc, _rel = line.split("\t")
        qrels.setdefault(qid, set()).add(doc)
    return rows, qrels


def _dress(text: str, rng: random.Random) -> str:
    prefix = rng.choice(PREFIXES).format(
        email=f"{rng.choice(['maria', 'j.smith', 'kev88'])}@{rng.choice(['gmail.com', 'web.de'])}",
        ticket=rng.randint(100000, 999999),
        handle=rng.choice(["lil_gamer_09", "dancequeen", "xXdarkXx"]),
        order=rng.randint(10**7, 10**8),
        phone=rng.randint(10000, 99999),
    )
    return prefix + text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", default="http://127.0.0.1:8000")
    parser.add_argument("-n", "--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rng = random.Random(args.seed)
    rows, qrels = _questions()
    answerable = [r for r in rows if r.get("answerable", True)]
    unanswerable = [r for r in rows if not r.get("answerable", True)]
    api = args.api_url.rstrip("/")
    stats = {"searches": 0, "unanswered": 0, "feedback": 0}
    for i in range(args.count):
        roll = rng.random()
        if roll < 0.12:
            qid, text = None, rng.choice(UNCOVERED)
        elif roll < 0.25:
            pick = rng.choice(unanswerable)
            qid, text = pick["query_id"], pick["text"]
        else:
            pick = rng.choice(answerable)
            qid, text = pick["query_id"], pick["text"]
        body = {"query": _dress(text, rng), "top_k": 5}
        if rng.random() < 0.1:
            body["filters"] = {"markets": [rng.choice(["DE", "GB", "US", "BR", "MY"])]}
        r = requests.post(f"{api}/search", json=body, timeout=30)
        r.raise_for_status()
        out = r.json()
        stats["searches"] += 1
        stats["unanswered"] += not out["answerable"]
        if not out.get("search_id") or rng.random() > 0.35:
            continue
        top = out["results"][0] if out["results"] else None
        relevant = qrels.get(qid or "", set())
        if top and top["doc_id"] in relevant:
            rating, chunk = "helpful", top["chunk_id"]
        elif top and top["metadata"].get("status") == "superseded":
            rating, chunk = "wrong_or_outdated", top["chunk_id"]
        elif top and relevant:
            rating, chunk = rng.choice(["not_helpful", "wrong_or_outdated"]), top["chunk_id"]
        else:
            rating, chunk = "not_helpful", None  # the whole search did not help
        comment = rng.choice(["", "", "customer j.doe@mail.com still waiting", "not what I need"])
        requests.post(
            f"{api}/feedback",
            json={"search_id": out["search_id"], "rating": rating, "chunk_id": chunk,
                  "comment": comment},
            timeout=30,
        ).raise_for_status()  # fmt: skip
        stats["feedback"] += 1
        if (i + 1) % 50 == 0:
            logger.info("%d searches sent", i + 1)
    logger.info(
        "seeded %d searches (%d unanswered), %d feedback",
        stats["searches"],
        stats["unanswered"],
        stats["feedback"],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
