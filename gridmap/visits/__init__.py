"""Home visits (六必访): due state, the daily walking route, the month plan.

Empty until the home-visits issue; algorithms here take plain data and never import storage.
"""
