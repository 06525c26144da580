"""Patrol routes (arc routing): exact Chinese postman, rural postman, teams, shifts, checkpoints.

Empty until the patrol-routes issue; algorithms here take plain data and never import storage.
"""
