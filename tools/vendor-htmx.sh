#!/usr/bin/env bash
# Vendor htmx from npm into the service's assets (the dashboard serves it itself: no CDN, no JS
# build). Run to move to another version; commit the result.
#   tools/vendor-htmx.sh [VERSION]   (default: the version in crates/7-service/clv-serve/assets/VENDORED)
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS=crates/7-service/clv-serve/assets
VERSION=${1:-$(sed -n 's/^htmx.org@//p' "$ASSETS/VENDORED")}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "htmx.org@$VERSION" >/dev/null && tar -xzf htmx.org-*.tgz)
cp "$TMP/package/dist/htmx.min.js" "$ASSETS/htmx.min.js"
echo "htmx.org@$VERSION" > "$ASSETS/VENDORED"
echo "vendored htmx.org@$VERSION into $ASSETS/htmx.min.js"
