"""The README's contents list and links lead somewhere: a renamed heading or a moved doc
would leave a newcomer at a dead link."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: lower case, punctuation dropped, spaces as '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    return {github_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", markdown, re.M)}


def test_github_anchor_matches_githubs_rules() -> None:
    assert github_anchor("Indexing: incremental, atomic, bounded") == (
        "indexing-incremental-atomic-bounded"
    )
    assert github_anchor("The UI") == "the-ui"


def test_readme_lists_every_section_in_its_contents() -> None:
    text = (ROOT / "README.md").read_text()
    contents = next(line for line in text.splitlines() if line.startswith("**Contents:**"))
    listed = [link.lstrip("#") for link in LINK.findall(contents)]
    sections = [github_anchor(h) for h in re.findall(r"^## (.+)$", text, re.M)]
    assert listed == sections


def test_readme_and_docs_links_resolve() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text()
        for target in LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, fragment = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif fragment and file.suffix == ".md" and fragment not in anchors(file.read_text()):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []
