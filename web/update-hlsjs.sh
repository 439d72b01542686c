#!/bin/sh
# Vendors hls.js from npm into web/static/vendor/ (called by `make web`).
# Usage: web/update-hlsjs.sh [version]   (default: the newest 1.x on npm)
# Needs npm and network access to the npm registry; nothing else is fetched.
set -eu
cd "$(dirname "$0")"
version="${1:-}"
if [ -z "$version" ]; then
	# The newest release of the 1.x line (npm prints the matching versions as JSON).
	version=$(npm view 'hls.js@^1' version --json | tr -d '[]" \n' | tr ',' '\n' | grep -v -- '-' | tail -n 1)
fi
case "$version" in
1.*) ;;
*) echo "update-hlsjs: refusing version '$version' (only 1.x is supported)" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "hls.js@$version" >/dev/null && tar xzf hls.js-"$version".tgz)
dest=static/vendor
mkdir -p "$dest"
# The full build (not "light"): gohlslib's fMP4 variants carry audio as an
# alternate rendition, which the light build leaves out. The source map
# comment is dropped so that no browser asks for a file we do not ship.
sed '/^\/\/# sourceMappingURL=/d' "$tmp/package/dist/hls.min.js" >"$dest/hls.min.js"
cp "$tmp/package/LICENSE" "$dest/hls.js.LICENSE"
printf '%s\n' "$version" >"$dest/hls.js.VERSION"
echo "hls.js $version vendored into web/$dest"
