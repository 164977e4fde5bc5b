"""Formatting shared by the few-label scripts' markdown tables (readme_tables.py,
full_label_reference.py), so that every table prints a mean ± std the same way."""

import pandas as pd


def pm(values: pd.Series) -> str:
    """Mean ± sample standard deviation (pandas' ddof=1), four decimals."""
    return f"{values.mean():.4f} ± {values.std():.4f}"
