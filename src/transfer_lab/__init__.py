"""transfer-lab: transfer learning and learning with few labels as Kedro pipelines."""

__version__ = "0.1.0"
