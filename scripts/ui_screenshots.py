"""Screenshot every UI page of a running UI with headless chromium (needs `chromium`).

    .venv/bin/python -m scripts.ui_screenshots --ui-url http://127.0.0.1:8601 [--out DIR]

Searches like an agent (types, presses Enter), opens the knowledge-manager page and runs the
evaluation of kb/ in the default mode; PNGs go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tests.cdp import Chromium

REPO = Path(__file__).resolve().parent.parent
SEARCH_BOX = 'input[aria-label^="Ask the knowledge base"]'
logger = logging.getLogger("ui_screenshots")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ui-url", default="http://127.0.0.1:8501")
    parser.add_argument("--out", type=Path, default=REPO / "test-artifacts")
    parser.add_argument("--query", default="DE user wants coin refund after 10 days")
    parser.add_argument("--no-answer-query", default="any student discount for vybe+")
    parser.add_argument("--skip-eval", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ui = args.ui_url.rstrip("/")
    with Chromium(width=1400, height=1000) as browser:
        for name, query, expect in [
            ("ui-agent-search.png", args.query, "Send feedback"),
            ("ui-agent-no-answer.png", args.no_answer_query, "Send feedback"),
        ]:
            browser.goto(ui + "/")
            browser.wait_for_text("Search the knowledge base", "passages.")
            browser.type_and_enter(SEARCH_BOX, query)
            browser.wait_for_text("passages for", expect)
            logger.info("%s", browser.screenshot(args.out / name))
        browser.goto(ui + "/knowledge")
        browser.wait_for_text("Coverage gaps by topic", "Conflicting passages", timeout=120)
        logger.info("%s", browser.screenshot(args.out / "ui-knowledge.png"))
        browser.goto(ui + "/evaluate")
        browser.wait_for_text("Run evaluation")
        if not args.skip_eval:
            browser.js(
                "[...document.querySelectorAll('button')]"
                ".find(b => b.innerText.includes('Run evaluation')).click()"
            )
            browser.wait_for_text("Per query", "Where the expected document ranked", timeout=900)
        logger.info("%s", browser.screenshot(args.out / "ui-evaluate.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
