"""Camera coverage: view areas cut by buildings, street and block coverage, camera siting.

Empty until the camera-coverage issue; algorithms here take plain data and never import storage.
"""
