"""simfleet glue: the Python side of simfleet.

Packages, top to bottom (imports only go down this list; never sideways or up):
  cli/       the `glue` command, one module per subcommand
  expr/      task expressions, compiled into RQ jobs;  images/  your own job image
  jobs/      the job engine: queue, workers, executors, sandbox, reducers, run state, report/
  lab/       the local lab only: the RGW container, image builds, the Vagrant inventory
  s3/        S3 client, listing, sync and downloads;  registry/  the registry's API v2
and the shared modules every package may use: atomic, config, errors.
"""

__version__ = "0.1.0"
