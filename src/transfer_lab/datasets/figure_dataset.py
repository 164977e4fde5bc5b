"""A matplotlib figure dataset that can also be read back, as PNG bytes.

kedro-datasets' ``MatplotlibDataset`` only writes. The run report (``evaluation.report``)
embeds every figure of the run, so it takes the figures as node inputs (which also orders
it after the nodes that draw them) and reads them as PNG bytes: a single file loads as
``bytes``, a folder of figures (a dict of figures saved) as ``{name: bytes}``.
"""

from __future__ import annotations

from transfer_lab.datasets.atomic import MatplotlibDataset  # written atomically


class FigureDataset(MatplotlibDataset):
    """``matplotlib.MatplotlibDataset`` whose ``load`` returns the written PNG(s) as bytes."""

    def load(self) -> bytes | dict[str, bytes]:  # type: ignore[override]
        path = str(self._get_load_path())
        if self._fs.isdir(path):
            files = sorted(self._fs.find(path))
            return {f[len(path):].lstrip("/"): self._fs.cat_file(f) for f in files if f.endswith(".png")}
        return self._fs.cat_file(path)
