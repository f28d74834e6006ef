"""Your own job image: dev containers (new, exec, shell, save), Dockerfile builds with the
project's local bases and a libc check, a local run of one scenario through the fleet's own
executor (jobs/), and the push to the fleet's registry (registry/)."""
