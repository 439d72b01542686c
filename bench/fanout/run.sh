#!/usr/bin/env bash
# make bench runs this: HLS fan-out of the gateway beside nginx.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./bench/fanout -viewers "${FANOUT_VIEWERS:-2000}" -duration "${FANOUT_DURATION:-10s}"
