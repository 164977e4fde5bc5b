"""The run report and the README tables on the ci run's outputs."""

import base64
import re

import pandas as pd

from transfer_lab.reporting.readme import readme_tables
from transfer_lab.reporting.report import read_run_facts


def test_the_ci_run_writes_a_self_contained_report(ci_run):
    project, _ = ci_run
    page = (project / "data/08_reporting/report.html").read_text(encoding="utf-8")
    for caption in ("evaluation on digits", "transfer on digits", "semi_supervised on digits", "dictionary on digits"):
        assert f"<caption>{caption}</caption>" in page
    assert re.search(r"<td><b>\d\.\d{3} ± \d\.\d{3}</b></td>", page)  # mean ± std, best in bold
    images = re.findall(r"<img alt='([^']+)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'>", page)
    names = {name for name, _ in images}
    assert {"label_budget.png", "leaderboard_heatmap.png", "domain_adaptation.png", "sdl_psnr.png",
            "taskonomy_tournament.png", "taskonomy_agreement.png", "semi_supervised_accuracy.png"} <= names
    pngs = sorted(p.relative_to(project / "data/08_reporting").as_posix() for p in (project / "data/08_reporting").rglob("*.png"))
    assert set(pngs) == names  # every figure of the run is in the report
    assert all(base64.b64decode(data).startswith(b"\x89PNG") for _, data in images)
    assert "digits-&gt;digits_rotated" in page and "<td>dann</td>" in page  # domain adaptation summary
    assert "<td>sdl</td>" in page and "<td>leep</td>" in page  # SDL and Taskonomy summaries
    assert "<td>evaluation.cnn.training.epochs</td><td>4</td>" in page  # flattened parameters (ci)
    facts = read_run_facts(page)
    assert set(facts) >= {"date", "machine", "command", "commit", "dirty"}
    assert not re.search(r"(src|href)=['\"]https?://", page)


def test_readme_tables_on_the_ci_leaderboard(ci_run):
    project, _ = ci_run
    text = readme_tables(project / "data/08_reporting")
    assert text.startswith("_Run of ")
    board = pd.read_csv(project / "data/08_reporting/leaderboard.csv", dtype={"labels_per_class": str})
    rows = board.query("pipeline == 'evaluation' and metric == 'accuracy' and split == 'test' and method == 'logreg_pixels'")
    means = {r.labels_per_class: f"{r.mean:.3f}" for r in rows.itertuples()}
    # the evaluation table: logistic regression's means at 1, 5 and all labels per class
    assert re.search(rf"\| `logreg_pixels` \| (\*\*)?{means['1']}(\*\*)? \| (\*\*)?{means['5']}(\*\*)? \| (\*\*)?{means['all']}(\*\*)? \|", text)
    for heading in ("**evaluation** on digits", "**transfer** on digits", "**semi_supervised** on digits",
                    "**Domain adaptation**", "**SDL synthesis**", "**Taskonomy**"):
        assert heading in text
    # one bold cell per budget column in every method × budget table
    for block in text.split("\n\n"):
        if block.startswith("| method |"):
            lines = block.splitlines()[2:]
            n_budgets = lines[0].count("|") - 2
            assert sum(line.count("**") // 2 for line in lines) >= n_budgets
