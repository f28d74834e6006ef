"""The run report: build turns a run summary into report.html and timeline.png, page renders
the HTML and chart draws the timeline. It reads the job engine's summary and nothing else."""
