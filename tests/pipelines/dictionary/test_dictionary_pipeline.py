"""The dictionary pipeline through Kedro's runner on the ci environment (in the default run)."""

import pandas as pd

CI_BUDGETS = {"1", "5", "all"}


def _results(project):
    return pd.read_csv(project / "data/08_reporting/dictionary_results.csv", dtype={"labels_per_class": str}, keep_default_na=False)


def test_self_taught_and_raw_for_every_budget_and_seed(ci_run):
    project, _ = ci_run
    results = _results(project)
    accuracy = results[(results["metric"] == "accuracy") & (results["split"] == "test")]
    for method, dataset in (("raw", "digits"), ("self_taught", "digits"), ("self_taught", "digits_thick->digits")):
        rows = accuracy[(accuracy["method"] == method) & (accuracy["dataset"] == dataset)]
        assert {(b, s) for b, s in zip(rows["labels_per_class"], rows["seed"])} == {(b, s) for b in CI_BUDGETS for s in (0, 1)}
        assert rows["value"].between(0.0, 1.0).all()
    # with every label, codes of a 32-atom dictionary still classify digits well
    best = accuracy[(accuracy["method"] == "self_taught") & (accuracy["labels_per_class"] == "all")]["value"]
    assert best.min() > 0.8


def test_sdl_synthesis_rows_and_figures(ci_run):
    project, _ = ci_run
    results = _results(project)
    psnr = results[results["metric"] == "psnr"]
    super_resolution = psnr[psnr["dataset"] == "digits_low_res->digits"]
    assert set(super_resolution["method"]) == {"sdl", "coupled_identity", "ridge", "interpolation_bilinear", "interpolation_bicubic"}
    thick = psnr[psnr["dataset"] == "digits->digits_thick"]
    assert set(thick["method"]) == {"sdl", "coupled_identity", "ridge"}  # no interpolation at equal sizes
    assert psnr["value"].between(5.0, 60.0).all()
    assert (psnr["labels_per_class"] == "").all()
    for name in ("dictionary_atoms", "dictionary_objective", "sdl_synthesis_examples", "sdl_objective"):
        assert (project / f"data/08_reporting/{name}.png").stat().st_size > 3000


def test_sdl_domain_adaptation_against_source_only(ci_run):
    project, _ = ci_run
    results = _results(project)
    adaptation = results[results["split"] == "target_test"]
    assert set(adaptation["dataset"]) == {"digits->digits_thick"}
    assert set(adaptation["method"]) == {"sdl", "coupled_identity", "source_only"}
    for method in ("sdl", "source_only"):
        rows = adaptation[adaptation["method"] == method]
        assert {(b, s) for b, s in zip(rows["labels_per_class"], rows["seed"])} == {(b, s) for b in CI_BUDGETS for s in (0, 1)}
