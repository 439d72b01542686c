#!/usr/bin/env bash
# Prints mmsd's throughput figures: CPU per streamed MB and how many
# 300 kbit/s TCP clients one core serves, unpaced and paced in real time.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "== mmsd: streaming over TCP as fast as clients read (server + in-process clients)"
go test -run '^$' -bench 'BenchmarkStreamTCP$' -benchtime 3s ./mmsserver | grep -E '^Benchmark'
echo "== mmsd: 200 clients at once, paced in real time, 300 kbit/s clip"
go test -run '^$' -bench 'BenchmarkConcurrent300k$' -benchtime 1x ./mmsserver | grep -E '^Benchmark'
