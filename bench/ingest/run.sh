#!/usr/bin/env bash
# bench/ingest: CPU time (user+system) per received MB of mmsget against
# `ffmpeg -i mmst://... -c copy -f null -`, both reading the same file from
# an unpaced mmsd (-rate 0) over TCP on loopback. Prints both and the ratio
# (the goal is mmsget <= 0.2 of FFmpeg). Both discard what they receive
# (mmsget -o /dev/null, ffmpeg -f null).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'kill $mmsd_pid 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/" ./cmd/mmsget ./cmd/mmsd ./bench/ingest/cputime
# A 60 s WMV2+WMA2 clip at about 2 Mbit/s (~15 MB).
ffmpeg -v error -f lavfi -i testsrc2=size=640x480:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
	-t 60 -c:v wmv2 -b:v 2M -c:a wmav2 -b:a 128k -f asf "$work/clip.wmv"
bytes=$(stat -c %s "$work/clip.wmv")

port=$((20000 + RANDOM % 20000))
"$work/mmsd" -addr 127.0.0.1:$port -dir "$work" -rate 0 -fast-start 0 -log-level error &
mmsd_pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

# cpu CMD...: prints the user+system seconds the command used (rusage, µs).
cpu() {
	"$work/cputime" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
	sed -n 's/^cputime: //p' "$work/err"
}

# Each client downloads the clip $runs times, alternating, to average out the
# load of a shared machine.
runs=${RUNS:-5}
mb=$(echo "scale=4; $runs * $bytes / 1000000" | bc)
ours=0 theirs=0
for _ in $(seq "$runs"); do
	ours=$(echo "$ours + $(cpu "$work/mmsget" -q -transport tcp -o /dev/null "mmst://127.0.0.1:$port/clip.wmv")" | bc)
	theirs=$(echo "$theirs + $(cpu ffmpeg -v error -i "mmst://127.0.0.1:$port/clip.wmv" -c copy -f null -)" | bc)
done
printf 'ingest of %s MB over MMS/TCP from mmsd -rate 0\n' "$mb"
printf '  mmsget: %s s CPU, %s s/MB\n' "$ours" "$(echo "scale=5; $ours / $mb" | bc)"
printf '  ffmpeg: %s s CPU, %s s/MB\n' "$theirs" "$(echo "scale=5; $theirs / $mb" | bc)"
if [ "$(echo "$theirs > 0" | bc)" = 1 ]; then
	printf '  ratio mmsget/ffmpeg: %s (goal <= 0.2)\n' "$(echo "scale=3; $ours / $theirs" | bc)"
fi
