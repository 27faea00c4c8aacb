"""What a QA pass by keyboard and at phone and tablet widths found, checked in a real browser.

One API (fake encoder, the sample knowledge base) and one ``streamlit run ui/app.py`` serve the
whole module: each test opens its own headless chromium (tests/cdp.py) at the width it is
about. They skip without chromium locally, as tests/test_ui_browser.py does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests

from tests import fixture_files
from tests.cdp import Chromium
from tests.conftest import FakeEmbedder
from tests.test_evaluation_browser import CLICK_RUN
from tests.test_insights_api import make_app
from tests.test_ui_browser import REPO, require_chromium, start_streamlit, stop
from tests.test_ui_pages import served

BOX = 'input[aria-label^="Ask the knowledge base"]'
QUESTION = "escalate imminent risk guardian queue"
PHONE, TABLET = (390, 844), (768, 1024)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The UI's and the API's addresses."""
    require_chromium()
    root = tmp_path_factory.mktemp("a11y")
    fixture_files.write_sample_kb(root / "kb")
    with served(make_app(root / "kb", FakeEmbedder(), root)) as api_url:
        url, ui = start_streamlit(REPO / "ui" / "app.py", {"KB_API_URL": api_url})
        try:
            yield url, api_url
        finally:
            stop(ui)


@pytest.fixture
def ui_url(servers: tuple[str, str]) -> str:
    return servers[0]


def _search(browser: Chromium, ui_url: str, question: str = QUESTION) -> str:
    """Open the Search page, type ``question`` and press Enter, as an agent does."""
    browser.goto(ui_url)
    browser.wait_for_text("Search the knowledge base")
    browser.type_and_enter(BOX, question)
    return browser.wait_for_text("passages for", "Send feedback")


# Where the first result's title and the first lines of its passage are on screen.
FIRST_RESULT = """(() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const title = [...main.querySelectorAll('h1, h2, h3, h4, p')]
    .find(e => /^1\\. /.test(e.innerText.trim()));
  const passage = [...main.querySelectorAll('[data-testid="stHtml"]')]
    .find(e => e.querySelector('mark'));
  const box = e => { const r = e.getBoundingClientRect(); return [r.top, r.bottom]; };
  return {title: title && box(title), passage: passage && box(passage),
          height: window.innerHeight};
})()"""


@pytest.mark.parametrize("size", [PHONE, TABLET], ids=["390px", "768px"])
def test_the_first_result_is_on_the_first_screen(ui_url: str, size: tuple[int, int]) -> None:
    """At 390 px the title, the question box and the five stacked filters filled the whole
    first screen: the first result's title started at 890 px of 844."""
    with Chromium(*size) as browser:
        _search(browser, ui_url)
        where = browser.js(FIRST_RESULT)
    height = where["height"]
    assert where["title"] and where["passage"], where
    title_top, title_bottom = where["title"]
    passage_top = where["passage"][0]
    assert 0 <= title_top and title_bottom < height, where
    assert passage_top + 2 * 24 < height, where  # its first two lines, at least


def test_the_folded_options_say_what_a_link_set(ui_url: str) -> None:
    """The filters are folded away on the form: a link's market and date show in its label,
    so a search is never narrowed by something out of sight."""
    with Chromium(*PHONE) as browser:
        browser.goto(f"{ui_url}/?q=coin+refund&market=DE&as_of=2026-03-01&top_k=3")
        browser.wait_for_text("passages for")
        labels = browser.js(
            "[...document.querySelectorAll('[data-testid=\"stExpander\"] summary')]"
            ".map(s => s.innerText.trim())"
        )
    assert any(
        label.endswith("Filters and options: DE, as of 2026-03-01, 3 results") for label in labels
    ), labels


FOCUSED = "document.activeElement && document.activeElement.getAttribute('aria-label')"


def test_the_question_box_has_focus_on_arrival(ui_url: str) -> None:
    """An agent opening the Search page types at once: no click or tab to reach the box."""
    with Chromium(*TABLET) as browser:
        browser.goto(ui_url)
        browser.wait_for_text("Search the knowledge base", "passages.")
        assert browser.js(FOCUSED) == "Ask the knowledge base (Enter searches)"
        browser.send("Input.insertText", text=QUESTION)  # typed, nowhere clicked
        key = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        browser.send("Input.dispatchKeyEvent", type="keyDown", text="\r", **key)
        browser.send("Input.dispatchKeyEvent", type="keyUp", **key)
        text = browser.wait_for_text("passages for", "Send feedback")
        assert "Dangerous Challenges SOP" in text
    # Arriving from another page by the sidebar's link (Enter on it, as by keyboard), the box
    # has focus too: the link left behind keeps it otherwise.
    with Chromium() as browser:
        browser.goto(f"{ui_url}/knowledge")
        browser.wait_for_text("Coverage & quality")
        assert browser.js(
            "(() => { const a = [...document.querySelectorAll('[data-testid=\"stSidebarNav\"] a')]"
            ".find(a => a.innerText.trim().endsWith('Search')); a.focus();"
            " return document.activeElement === a; })()"
        )
        key = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        browser.send("Input.dispatchKeyEvent", type="keyDown", text="\r", **key)
        browser.send("Input.dispatchKeyEvent", type="keyUp", **key)
        browser.wait_for_text("Search the knowledge base", "passages.")
        assert browser.js(FOCUSED) == "Ask the knowledge base (Enter searches)"


def _accessible(browser: Chromium, role: str) -> list[dict]:
    """What a screen reader is given for every node of ``role`` on the page (chromium's
    accessibility tree): its name and, for a heading, its level."""
    nodes = browser.send("Accessibility.getFullAXTree")["nodes"]
    found = []
    for node in nodes:
        if node.get("ignored") or node.get("role", {}).get("value") != role:
            continue
        props = {p["name"]: p["value"].get("value") for p in node.get("properties", [])}
        found.append({"name": node.get("name", {}).get("value", ""), "level": props.get("level")})
    return found


def test_each_result_title_is_a_heading(ui_url: str) -> None:
    """Result titles were bold text: a screen-reader user could not jump from one result to
    the next by headings."""
    with Chromium(*TABLET) as browser:
        text = _search(browser, ui_url)
        headings = _accessible(browser, "heading")
    shown = int(text.split(" passages for")[0].split()[-1])
    titles = [h for h in headings if h["name"][:1].isdigit()]
    assert [h["name"].split(". ")[0] for h in titles] == [str(n) for n in range(1, shown + 1)]
    assert titles[0]["name"] == "1. Dangerous Challenges SOP"
    assert {h["level"] for h in titles} == {2}  # under the page's title, a level 1
    assert [h["level"] for h in headings if h["name"] == "Search the knowledge base"] == [1]


def test_each_source_link_has_its_own_name(ui_url: str) -> None:
    """Five links all named "Open in source": a screen reader's list of links could not tell
    which result each one opens."""
    with Chromium(*TABLET) as browser:
        _search(browser, ui_url)
        links = [link["name"] for link in _accessible(browser, "link")]
    sources = [n for n in links if n.startswith("Open in source")]
    assert len(sources) == 5 and len(set(sources)) == 5, links
    assert sources[0] == "Open in source: 1. Dangerous Challenges SOP § 2 Escalation"
    pdf = [n for n in links if n.startswith("original PDF")]
    assert pdf == ["original PDF, page 2: 1. Dangerous Challenges SOP § 2 Escalation"]


TAB = {"key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9}
# Where focus is: the element's test id and whether it sits in the sidebar.
FOCUS_AT = """(() => { const a = document.activeElement;
  return [a.getAttribute('data-testid') || a.tagName,
          !!a.closest('[data-testid="stSidebar"]')]; })()"""
SIDEBAR_LINKS = '[data-testid="stSidebar"] a'


def _tab_through(browser: Chromium, presses: int = 14) -> list[list]:
    """Where each of ``presses`` Tab key presses from the top of the page puts focus."""
    browser.js("window.scrollTo(0, 0); document.activeElement.blur()")
    seen = []
    for _ in range(presses):
        browser.send("Input.dispatchKeyEvent", type="keyDown", **TAB)
        browser.send("Input.dispatchKeyEvent", type="keyUp", **TAB)
        seen.append(browser.js(FOCUS_AT))
    return seen


def _click(browser: Chromium, selector: str) -> None:
    assert browser.js(f"""(() => {{ const b = document.querySelector({json.dumps(selector)});
      if (!b) return false; b.click(); return true; }})()"""), selector
    time.sleep(0.8)  # the sidebar slides for 0.3 s


def test_a_collapsed_sidebar_is_out_of_the_tab_order(ui_url: str) -> None:
    """At 390 px the sidebar starts collapsed, slid off screen, yet Tab went through its three
    page links: keyboard users landed on links they could not see."""
    with Chromium(*PHONE) as browser:
        browser.goto(ui_url)
        browser.wait_for_text("Search the knowledge base", "passages.")
        stops = _tab_through(browser)
        assert [testid for testid, in_sidebar in stops if in_sidebar] == [], stops
        assert "stExpandSidebarButton" in [testid for testid, _ in stops]  # the way to open it
        assert browser.js(f"[...document.querySelectorAll('{SIDEBAR_LINKS}')].length") == 3
        # Opened, its links are on screen and reached by Tab; closed again, they are not.
        _click(browser, '[data-testid="stExpandSidebarButton"]')
        stops = _tab_through(browser)
        assert [testid for testid, in_sidebar in stops if in_sidebar].count("stSidebarNavLink") == 3
        assert browser.js(
            f"[...document.querySelectorAll('{SIDEBAR_LINKS}')].every(a => a.checkVisibility())"
        )
        _click(browser, '[data-testid="stSidebarCollapseButton"] button')
        stops = _tab_through(browser)
        assert [testid for testid, in_sidebar in stops if in_sidebar] == [], stops


def test_the_gap_trend_chart_has_its_figures_as_text_and_a_table(
    servers: tuple[str, str],
) -> None:
    """The Coverage page's bar chart was a picture only: a screen reader got no figure."""
    ui_url, api_url = servers
    for _ in range(2):  # a question the knowledge base does not answer: a gap signal
        answer = requests.post(f"{api_url}/search", json={"query": "zakat"}, timeout=30).json()
        assert not answer["answerable"]
    with Chromium(*TABLET) as browser:
        browser.goto(f"{ui_url}/knowledge")
        text = browser.wait_for_text("Trend (gap searches per day", "Gap searches per day from")
        table = browser.js(
            "[...document.querySelectorAll('table[data-testid=\"stTableStyledTable\"]')]"
            ".map(t => [t.getAttribute('aria-label'), [...t.querySelectorAll('tr')]"
            ".map(r => [...r.cells].map(c => c.textContent.trim()))])"
        )
        chart = browser.js(
            "[...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')]"
            ".map(e => e.getAttribute('aria-label'))"
        )
    said = next(line for line in text.splitlines() if line.startswith("Gap searches per day"))
    assert ": 2 searches, most on " in said and "zakat" in said, said
    [(name, rows)] = table
    assert name and rows[0][0] == "day"
    [column] = [i for i, cell in enumerate(rows[0]) if cell.endswith(". zakat")]  # as written
    assert sum(int(row[column]) for row in rows[1:]) == 2
    assert any("gap searches per day" in (label or "") for label in chart), chart


def test_the_evaluation_chart_has_its_figures_as_text(ui_url: str) -> None:
    """The mode comparison chart is a PNG whose text alternative was its caption alone."""
    with Chromium(*TABLET) as browser:
        browser.goto(f"{ui_url}/evaluate")
        browser.wait_for_text("Evaluation", "Run evaluation")
        assert browser.js(CLICK_RUN)
        browser.wait_for_text("Metrics: tiny (dev)", "Per query", timeout=120)
        alts = browser.js("[...document.querySelectorAll('[data-testid=\"stMain\"] img')]"
                          ".map(i => i.alt)")  # fmt: skip
    [alt] = [a for a in alts if "metrics" in a]
    assert alt.startswith("Bar chart of the headline metrics by mode (0 to 1). recall@1: default ")
    assert all(name in alt for name in ("recall@5", "mrr@10", "ndcg@10")), alt
