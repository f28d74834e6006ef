"""The one exception type the CLI turns into `glue: error: <message>` and a non-zero exit.

Modules raise a GlueError (or a subclass) for anything a user can fix: a bad argument, an
unreachable service, wrong credentials. The message must name the problem in one line.
"""


class GlueError(RuntimeError):
    """A failure to report to the user in one line, without a traceback."""

    exit_code = 1
