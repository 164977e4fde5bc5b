"""Schema of ``parameters_data.yml`` (the ``data`` key): :class:`~transfer_lab.contracts.DataParams`,
shared by every pipeline and so kept in :mod:`transfer_lab.contracts`."""

from transfer_lab.contracts import DataParams

SCHEMA = {"data": DataParams}
