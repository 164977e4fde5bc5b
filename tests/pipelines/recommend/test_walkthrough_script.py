"""scripts/recommend_walkthrough.py: the folder it writes reads back through the project's own
image-folder source, and its Markdown tables say what the summaries hold."""
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from transfer_lab.datasets.own_data import ImageFolderDataset

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "recommend_walkthrough.py"
spec = importlib.util.spec_from_file_location("recommend_walkthrough", SCRIPT)
walkthrough = importlib.util.module_from_spec(spec)
spec.loader.exec_module(walkthrough)


def test_the_folder_holds_300_digits_of_four_classes_every_tenth_unlabelled(tmp_path):
    counts = walkthrough.write_folder(tmp_path)
    assert sum(counts.values()) == 300 and counts["unlabelled"] == 30
    assert sorted(counts) == ["class_0", "class_1", "class_2", "class_3", "unlabelled"]
    settings = {k: v for k, v in walkthrough.MY_IMAGES.items() if k != "type"}
    data = ImageFolderDataset(**{**settings, "path": str(tmp_path / "my_images")}).load()
    assert data.X.shape == (300, 1, 8, 8)  # the catalog entry's resize: [8, 8], grey
    assert (data.y == -1).sum() == 30 and len(np.unique(data.y[data.y >= 0])) == 4


def test_markdown_gives_mean_regret_in_points_and_per_seed_regrets_only_where_one_is_not_zero():
    summary = pd.DataFrame({"labels_per_class": ["1", "1", "1", "all", "all"], "seed": [0, 1, 2, 0, 1],
                            "regret": [0.0, 0.278, 0.0, 0.0, 0.0], "spearman": [0.5, 0.1, 0.6, 1.0, 0.8]})
    lines = walkthrough.markdown(summary).splitlines()
    assert lines[2] == "| 1 | 9.3 | 0.40 | 0, 27.8, 0 |"
    assert lines[3] == "| all | 0 | 0.90 |  |"
