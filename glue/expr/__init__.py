"""Task expressions such as `(a | b | c); d; a + b + c + d`: grammar (parser and printer),
plan (compile to steps), functions (the user's functions file whose functions are the tasks),
steps and runner (run the plan as RQ jobs with dependencies). Uses jobs/ below it."""
