"""Attack 4: kills mid-write; files appear whole or not at all, and resuming is safe."""

import pickle
import signal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from kedro.io import DatasetError  # noqa: E402
from kedro_datasets.pickle import PickleDataset as PlainPickleDataset  # noqa: E402

from tests.conftest import make_project_copy  # noqa: E402
from tests.reliability.cli import KedroProcess, kedro, mlflow_runs  # noqa: E402
from transfer_lab.datasets import atomic, tree_dataset  # noqa: E402
from transfer_lab.datasets.encoder_checkpoints import EncoderCheckpointsDataset  # noqa: E402


class _FailsWhenPickled:
    def __reduce__(self):
        raise RuntimeError("killed mid-write")


def _half_written_object():
    # ~8 MB is written to the file (pickle writes frame by frame) before the failure
    return [np.arange(10**6, dtype=np.float64).tobytes(), _FailsWhenPickled()]


def test_a_save_that_dies_midway_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "out.pkl"
    # what kedro-datasets does on its own: a truncated file under the real name
    plain = PlainPickleDataset(filepath=str(path))
    with pytest.raises(DatasetError):
        plain.save(_half_written_object())
    assert path.exists() and path.stat().st_size > 0
    with pytest.raises(Exception, match="(?i)truncated|ran out of input|EOF"):
        pickle.loads(path.read_bytes())
    path.unlink()

    dataset = atomic.PickleDataset(filepath=str(path))
    with pytest.raises(DatasetError):
        dataset.save(_half_written_object())
    assert not path.exists() and not dataset.exists()  # not at all
    dataset.save({"good": 1})
    with pytest.raises(DatasetError):
        dataset.save(_half_written_object())
    assert dataset.load() == {"good": 1}  # or the previous whole file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pkl"]  # no temporary left


def test_every_atomic_type_round_trips_under_its_real_name(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    atomic.CSVDataset(filepath=str(tmp_path / "t.csv")).save(frame)
    atomic.ParquetDataset(filepath=str(tmp_path / "t.parquet")).save(frame)
    atomic.JSONDataset(filepath=str(tmp_path / "t.json")).save({"k": [1, 2]})
    figure = plt.figure()
    atomic.MatplotlibDataset(filepath=str(tmp_path / "t.png")).save(figure)
    plt.close(figure)
    pd.testing.assert_frame_equal(atomic.CSVDataset(filepath=str(tmp_path / "t.csv")).load(), frame)
    pd.testing.assert_frame_equal(atomic.ParquetDataset(filepath=str(tmp_path / "t.parquet")).load(), frame)
    assert atomic.JSONDataset(filepath=str(tmp_path / "t.json")).load() == {"k": [1, 2]}
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    atomic.TextDataset(filepath=str(tmp_path / "t.html")).save("<p>report</p>")
    assert atomic.TextDataset(filepath=str(tmp_path / "t.html")).load() == "<p>report</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.html", "t.json", "t.parquet", "t.png"]


def test_a_folder_of_figures_is_replaced_whole(tmp_path):
    from transfer_lab.datasets.figure_dataset import FigureDataset

    figures = {name: plt.figure() for name in ("a.png", "b.png")}
    dataset = FigureDataset(filepath=str(tmp_path / "figs"))
    dataset.save(figures)
    assert set(dataset.load()) == {"a.png", "b.png"}
    dataset.save({"c.png": figures["a.png"]})  # a later run: the folder is this run's only
    assert set(dataset.load()) == {"c.png"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figs"]
    for figure in figures.values():
        plt.close(figure)


def test_an_interrupted_checkpoint_folder_does_not_exist_and_loads_empty(tmp_path, monkeypatch):
    import transfer_lab.datasets.encoder_checkpoints as module

    folder = EncoderCheckpointsDataset(str(tmp_path / "encoders"))
    checkpoint = {"state_dict": {"w": torch.zeros(2)}}
    folder.save({"a": checkpoint, "b": checkpoint})
    assert folder.exists() and set(folder.load()) == {"a", "b"}

    real_save, calls = module._save, []

    def dies_on_second(data, path):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # a kill between two files
        real_save(data, path)

    monkeypatch.setattr(module, "_save", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        folder.save({"a": checkpoint, "c": checkpoint})
    assert not folder.exists()  # --only-missing-outputs reruns the node
    assert folder.load() == {}  # and no half-set of encoders is used meanwhile


def _tables(project):
    found = {}
    for path in sorted((project / "data").rglob("*")):
        if path.suffix == ".parquet":
            found[str(path.relative_to(project))] = pd.read_parquet(path)
        elif path.suffix == ".csv":
            found[str(path.relative_to(project))] = pd.read_csv(path)
        elif path.suffix == ".npz":
            tree_dataset.loads(path.read_bytes())  # whole
            found[str(path.relative_to(project))] = None
    return found


@pytest.mark.slow
def test_only_missing_outputs_after_kills_gives_the_tables_of_an_uninterrupted_run(tmp_path):
    reference = make_project_copy(tmp_path / "reference")
    result = kedro(reference, "run", "--env", "ci", "--pipelines", "data,dictionary")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]

    project = make_project_copy(tmp_path / "project")
    # The kills are timed on Kedro's "Saving data to ..." lines, which the project's logging
    # config keeps quiet: turn them back on in this copy.
    logging_config = project / "conf" / "logging.yml"
    quiet = "  kedro.io.data_catalog:\n    level: WARNING"
    assert quiet in logging_config.read_text()
    logging_config.write_text(logging_config.read_text().replace(quiet, "  kedro.io.data_catalog:\n    level: INFO"))
    args = ("run", "--env", "ci", "--pipelines", "data,dictionary")
    # 1. killed as the first output is being written; 2. resumed, killed writing a dictionary model
    first = KedroProcess(project, *args, log_name="first.log")
    first.wait_for(r"Saving data to base_dataset")
    first.send(signal.SIGKILL)
    first.wait(60)
    second = KedroProcess(project, *args, "--only-missing-outputs", log_name="second.log")
    second.wait_for(r"Saving data to dictionary\.(self_taught_dictionaries|synthesis_examples|synthesis_rows|adaptation_rows)")
    second.send(signal.SIGKILL)
    second.wait(60)
    assert "Removed a stale run lock" in second.output()  # the first kill left its lock
    third = kedro(project, *args, "--only-missing-outputs")
    assert third.returncode == 0, (third.stdout + third.stderr)[-3000:]

    expected, got = _tables(reference), _tables(project)
    assert sorted(got) == sorted(expected)
    for name, frame in expected.items():
        if frame is not None:
            pd.testing.assert_frame_equal(got[name], frame, obj=name)
    assert [r.info.status for r in mlflow_runs(project)] == ["KILLED", "KILLED", "FINISHED"]
