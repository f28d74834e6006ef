"""Calls both runtimes of the image: Java (java -version) and Python, and writes both."""

import json
import os
import platform
import subprocess

java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=True)
result = {"java": java.stderr.splitlines()[0], "python": platform.python_version()}
results = os.path.join(os.environ["SIMFLEET_IO"], "results", "result.json")
with open(results, "w") as out:
    json.dump(result, out)
print(result)
