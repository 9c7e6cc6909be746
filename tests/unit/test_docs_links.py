"""The README is the quickstart plus links: every link of it and of the docs pages resolves, every docs page is
reachable from the README, and no code comment sends a reader to a README section that moved out of it."""

import glob
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")
PAGES = sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))


def links(path):
    with open(path) as handle:
        text = handle.read()
    return [target for target, _anchor in LINK.findall(text) if "://" not in target]


@pytest.mark.parametrize("page", [os.path.join(REPO, "README.md")] + PAGES, ids=os.path.basename)
def test_every_relative_link_resolves(page):
    broken = [target for target in links(page)
              if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(page), target)))]
    assert broken == []


def test_every_docs_page_is_reachable_from_the_readme():
    seen, todo = set(), [os.path.join(REPO, "README.md")]
    while todo:
        page = todo.pop()
        for target in links(page):
            path = os.path.normpath(os.path.join(os.path.dirname(page), target))
            if path.endswith(".md") and path not in seen and os.path.exists(path):
                seen.add(path)
                todo.append(path)
    assert [os.path.basename(page) for page in PAGES if page not in seen] == []


def test_the_readme_stays_a_quickstart_plus_links():
    with open(os.path.join(REPO, "README.md")) as handle:
        assert len(handle.read().splitlines()) <= 100, "details belong in docs/"


def test_no_code_points_at_a_readme_section_that_moved():
    sections = re.compile(r'README[\'"\s(]+(?:"|\()?(Rolling back|Backing up|What is in the collection|Automatic '
                          r'rollback|Reliability|Benchmarks|The lab|Testing|Tested versions|Mutation testing|'
                          r'verified against|Where the seconds go|Inventories|Roles)')
    stale = []
    for top in ("plugins", "roles", "playbooks", "lab", "bench", "scripts", "extensions", "tests", "docs"):
        for root, _dirs, files in os.walk(os.path.join(REPO, top)):
            for name in files:
                if name.endswith((".py", ".yml", ".yaml", ".j2", ".md", ".rst", ".sh")):
                    with open(os.path.join(root, name), errors="replace") as handle:
                        if sections.search(handle.read()):
                            stale.append(os.path.relpath(os.path.join(root, name), REPO))
    with open(os.path.join(REPO, "dev")) as handle:
        if sections.search(handle.read()):
            stale.append("dev")
    assert stale == []
