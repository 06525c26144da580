"""Use cases with no Flask in them: read from the workspace, call an algorithm, write the result.

The JSON API's and the OGC API's logic live here; :mod:`web` and :mod:`gridmap.cli` are thin
shells over these functions.
"""
