"""The job engine: one RQ job per scenario, executors that run it, reducers that fold results.

Modules, in the order a job meets them: naming (run and job ids), locations (where scenarios
come from and results go), submit (queue a run), connection (Redis and RQ queues), worker (RQ
workers on a host, one per slot), slot (which slot this process is), job (what one RQ job
does), executor / docker_executor / process_executor (run one scenario in an io-dir),
reducers and runstate (fold outcomes into the run summary), progress and status (watch a run),
report/ (the run's HTML page and chart). Uses s3/ and the shared modules.
"""
