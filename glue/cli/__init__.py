"""The `glue` command: main.py assembles the subcommands, one module each (sync, rgw, images,
run, worker, status, wait, result, report, expr), each exposing register() and a
`<command>_command` function. The top layer: nothing below imports from here."""
