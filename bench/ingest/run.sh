#!/usr/bin/env bash
# bench/ingest: CPU time (user+system) per received MB of mmsget against
# `ffmpeg -i mmst://... -c copy -f null -`, both reading the same file from
# an unpaced mmsd (-rate 0) over TCP on loopback. Both discard what they
# receive (mmsget -o /dev/null, ffmpeg -f null).
#
# Two figures, for both clients:
#   total: CPU of a whole run of the 60 s clip (~16 MB) per MB, start-up
#          included; the ratio mmsget/ffmpeg is the issue's goal (<= 0.2).
#   slope: the extra CPU per extra MB, from the 60 s clip and the same clip
#          looped 4 times (~65 MB): the steady-state cost of the Data path,
#          without either program's start-up.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
mmsd_pid=
trap 'if [ -n "$mmsd_pid" ]; then kill "$mmsd_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

go build -o "$work/" ./cmd/mmsget ./cmd/mmsd ./bench/ingest/cputime
# A 60 s WMV2+WMA2 clip at about 2 Mbit/s (~16 MB), and the same clip 4 times.
ffmpeg -v error -f lavfi -i testsrc2=size=640x480:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
	-t 60 -c:v wmv2 -b:v 2M -c:a wmav2 -b:a 128k -f asf "$work/clip.wmv"
ffmpeg -v error -stream_loop 3 -i "$work/clip.wmv" -c copy -f asf "$work/long.wmv"
small=$(stat -c %s "$work/clip.wmv")
large=$(stat -c %s "$work/long.wmv")

port=$((20000 + RANDOM % 20000))
"$work/mmsd" -addr 127.0.0.1:$port -dir "$work" -rate 0 -fast-start 0 -log-level error &
mmsd_pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

# cpu CMD...: prints the user+system seconds the command used (rusage, µs).
cpu() {
	"$work/cputime" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
	sed -n 's/^cputime: //p' "$work/err"
}
mmsget() { cpu "$work/mmsget" -q -transport tcp -o /dev/null "mmst://127.0.0.1:$port/$1"; }
ffmpeg_() { cpu ffmpeg -v error -i "mmst://127.0.0.1:$port/$1" -c copy -f null -; }

# Each client downloads each file $runs times, alternating, to average out
# the load of a shared machine.
runs=${RUNS:-5}
ours_s=0 ours_l=0 theirs_s=0 theirs_l=0
for _ in $(seq "$runs"); do
	ours_s=$(echo "$ours_s + $(mmsget clip.wmv)" | bc)
	theirs_s=$(echo "$theirs_s + $(ffmpeg_ clip.wmv)" | bc)
	ours_l=$(echo "$ours_l + $(mmsget long.wmv)" | bc)
	theirs_l=$(echo "$theirs_l + $(ffmpeg_ long.wmv)" | bc)
done
mb_s=$(echo "scale=4; $runs * $small / 1000000" | bc)
mb_l=$(echo "scale=4; $runs * $large / 1000000" | bc)
slope() { echo "scale=5; ($2 - $1) / ($mb_l - $mb_s)" | bc; }
printf 'ingest over MMS/TCP from mmsd -rate 0, %d runs each: %s MB (60 s clip), %s MB (looped x4)\n' \
	"$runs" "$(echo "scale=1; $mb_s / $runs" | bc)" "$(echo "scale=1; $mb_l / $runs" | bc)"
printf '  mmsget: total %s s CPU, %s s/MB; slope %s s/MB\n' "$ours_s" "$(echo "scale=5; $ours_s / $mb_s" | bc)" "$(slope "$ours_s" "$ours_l")"
printf '  ffmpeg: total %s s CPU, %s s/MB; slope %s s/MB\n' "$theirs_s" "$(echo "scale=5; $theirs_s / $mb_s" | bc)" "$(slope "$theirs_s" "$theirs_l")"
if [ "$(echo "$theirs_s > 0 && $theirs_l > $theirs_s" | bc)" = 1 ]; then
	printf '  ratio mmsget/ffmpeg: total %s (goal <= 0.2), slope %s\n' \
		"$(echo "scale=3; $ours_s / $theirs_s" | bc)" \
		"$(echo "scale=3; ($ours_l - $ours_s) / ($theirs_l - $theirs_s)" | bc)"
fi
