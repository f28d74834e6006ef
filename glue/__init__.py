"""simfleet glue: the Python side of simfleet (images, inventory, and later sync and jobs)."""

__version__ = "0.1.0"
