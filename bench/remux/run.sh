#!/usr/bin/env bash
# bench/remux: the media pipeline's two budgets, each printed beside its reference
# from the same run:
#   - CPU of the pipeline (this process + its ffmpeg) turning a 20 s WMV2+WMA2 clip
#     into HLS, against a bare ffmpeg doing the same conversion from the same file
#     (goal: ratio <= 1.05);
#   - memory of one ASF passthrough channel with 100 viewers over loopback HTTP
#     (goal: <= 20 MB RSS; the figure includes the 100 client connections).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(go test -run '^$' -bench 'TranscoderCPU|Passthrough100Viewers' -benchtime "${BENCHTIME:-3x}" ./remux/)
echo "$out" | grep -E '^Benchmark' || { echo "$out"; exit 1; }
echo "$out" | awk '
/^BenchmarkTranscoderCPU/ {
	for (i = 1; i <= NF; i++) { if ($(i+1) == "pipeline-cpu-s") p = $i; if ($(i+1) == "ffmpeg-cpu-s") f = $i; if ($(i+1) == "cpu-ratio") r = $i }
	printf "transcoder CPU per 20 s clip: pipeline %s s, bare ffmpeg %s s, ratio %s (goal <= 1.05)\n", p, f, r
}
/^BenchmarkPassthrough100Viewers/ {
	for (i = 1; i <= NF; i++) { if ($(i+1) == "MB-RSS") m = $i; if ($(i+1) == "MB-heap") h = $i }
	printf "passthrough channel with 100 viewers: %s MB RSS (%s MB heap) (goal <= 20 MB)\n", m, h
}'
