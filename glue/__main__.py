"""`python -m glue`: the same as the `glue` console script."""

from glue.cli.main import console_script

console_script()
