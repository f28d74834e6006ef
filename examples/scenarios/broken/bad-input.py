"""simfleet demo scenario broken/bad-input.py: fails on purpose, to show a failure."""

import sys

print("scenario broken/bad-input.py: reading a parameter that is not there", flush=True)
print("error: parameter 'mesh_size' is missing from the scenario", file=sys.stderr)
sys.exit(2)
