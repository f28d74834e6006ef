#!/usr/bin/env bash
# `make test`: lint, then two lanes side by side, so that one lane's waits (a node booting,
# a job's sleep, a failover) overlap the other's work: one after the other they took over
# 90 minutes on a 2-core machine, side by side about 55. The e2e tests on the Vagrant lab run
# in the foreground; the unit and integration tests, then Molecule, run beside them with each
# line marked "side|". PYTEST_ARGS goes to both pytest runs.
set -euo pipefail
cd "$(dirname "$0")/.."

make --no-print-directory lint

start=$SECONDS
# The side lane's lines go through sed, which prefixes them as soon as each one is complete.
{
  rc=0
  pytest -m "unit or integration" ${PYTEST_ARGS:-} || rc=$?
  echo "== unit and integration tests: exit $rc after $((SECONDS - start)) s"
  make --no-print-directory molecule || rc=$?
  exit "$rc"
} > >(sed -u 's/^/side| /') 2>&1 &
side=$!

e2e=0
pytest -m e2e ${PYTEST_ARGS:-} || e2e=$?
echo "== e2e tests: exit $e2e after $((SECONDS - start)) s"
rest=0
wait "$side" || rest=$?
echo "== unit, integration and Molecule: exit $rest after $((SECONDS - start)) s"
if ((e2e || rest)); then
  echo "make test: FAILED (e2e exit $e2e, unit/integration/Molecule exit $rest)" >&2
  exit 1
fi
echo "make test: every test passed in $((SECONDS - start)) s after lint"
