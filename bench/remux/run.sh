#!/usr/bin/env bash
# bench/remux: the media pipeline's two budgets, each printed beside its reference
# from the same run:
#   - CPU of the pipeline (this process + its ffmpeg) turning a 20 s WMV2+WMA2 clip
#     into HLS, against a bare ffmpeg doing the same conversion from the same file:
#     to MPEG-TS thrown away, and to fMP4 HLS with ffmpeg's own HLS muxer
#     (goal: ratio <= 1.05);
#   - memory of one ASF passthrough channel with 100 viewers over loopback HTTP
#     (goal: <= 20 MB RSS; the figure includes the 100 client connections).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(go test -run '^$' -bench 'TranscoderCPU|Passthrough100Viewers' -benchtime "${BENCHTIME:-3x}" ./remux/)
echo "$out" | grep -E '^Benchmark' || { echo "$out"; exit 1; }
echo "$out" | awk '
function m(name,   i) { for (i = 1; i < NF; i++) if ($(i+1) == name) return $i; return "?" }
/^BenchmarkTranscoderCPU/ {
	printf "transcoder CPU per 20 s clip: pipeline %s s (its ffmpeg %s s, its Go side %s ms); bare ffmpeg to MPEG-TS %s s (ratio %s), to HLS %s s (ratio %s); goal <= 1.05\n",
		m("pipeline-cpu-s"), m("its-ffmpeg-cpu-s"), m("go-cpu-ms"), m("ffmpeg-cpu-s"), m("cpu-ratio"), m("ffmpeg-hls-cpu-s"), m("cpu-ratio-vs-ffmpeg-hls")
}
/^BenchmarkPassthrough100Viewers/ {
	printf "passthrough channel with 100 viewers: %s MB RSS (%s MB heap) (goal <= 20 MB)\n", m("MB-RSS"), m("MB-heap")
}'
