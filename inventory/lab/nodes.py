#!/usr/bin/env python3
"""Ansible inventory of the Vagrant lab (glue/lab/inventory.py). Run it from the project venv."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
try:
    from glue.lab.inventory import main
except ImportError as exc:
    sys.exit(f"simfleet inventory: {exc}; run 'make setup' and use the venv (.venv/bin on PATH)")

sys.exit(main())
