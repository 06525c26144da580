"""The ``gridmap`` command: a thin shell over :mod:`gridmap.service` and :mod:`gridmap.build`."""

from gridmap.cli.main import main

__all__ = ["main"]
