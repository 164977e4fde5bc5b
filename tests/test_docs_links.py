"""Every relative link in the README and docs/ points to a file of the repository.

Experiment logs moved from the README into docs/experiments/; a renamed or removed file must not
leave the README pointing nowhere.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    targets = [t for t in LINK.findall(page.read_text()) if "://" not in t and not t.startswith("mailto:")]
    missing = [t for t in targets if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_the_readme_links_every_experiment_log() -> None:
    readme = (ROOT / "README.md").read_text()
    logs = sorted((ROOT / "docs" / "experiments").glob("*.md"))
    assert logs, "docs/experiments holds the experiment logs"
    assert [log.name for log in logs if f"docs/experiments/{log.name}" not in readme] == []
