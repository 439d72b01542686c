#!/usr/bin/env bash
# deps.sh checks for the programs that mmsgate's tests and demo need and, on a
# Debian machine where it runs as root, installs the missing ones with apt-get.
# Elsewhere it prints the exact command to run and exits non-zero.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
if [ "${1:-}" = "--test" ]; then
	command -v cvlc >/dev/null 2>&1 || need+=(vlc-bin vlc-plugin-base)
	command -v tshark >/dev/null 2>&1 || need+=(tshark)
	command -v iptables >/dev/null 2>&1 || need+=(iptables)
	command -v ip >/dev/null 2>&1 || need+=(iproute2)
	command -v chromium >/dev/null 2>&1 || need+=(chromium)
	command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
	command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
fi
[ ${#need[@]} -eq 0 ] && exit 0
# de-duplicate
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
cmd="apt-get update && apt-get install -y ${need[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need[@]}" >/dev/null
	exit 0
fi
echo "deps.sh: missing ${need[*]}; install them with: sudo sh -c '$cmd'" >&2
exit 1
