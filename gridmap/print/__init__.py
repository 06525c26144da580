"""One print engine: templates to HTML for print and PDF, maps drawn from the layers.

Empty until the workbench issue brings printed sheets.
"""
