"""Reading and writing files: readers, import, OpenStreetMap, export formats.

Nothing here opens the workspace: importers return validated frames, exporters take frames
read by the caller.
"""
