"""The job engine: one RQ job per scenario, executors that run it, reducers that fold results.

Modules, in the order a job meets them: naming (run and job ids), locations (where scenarios
come from and results go), submit (queue a run), worker (RQ workers on a host), task (what a
job does), executor / docker_executor / process_executor (run one scenario in an io-dir),
reducers and runstate (fold outcomes into the run summary), progress (wait for a run).
"""
