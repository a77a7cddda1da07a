#!/bin/sh
# Re-vendor the browser libraries from the npm registry at exact versions (no CDN at run time:
# training centres may have no internet). Run from anywhere; needs npm. Review the diff, then
# commit the copied files. Versions are pinned here and recorded in README.md.
set -eu

QRCODE_VERSION=2.0.4   # qrcode-generator (Kazuhiko Arase), MIT: QR codes for the site screen
UPLOT_VERSION=1.6.32   # uPlot (Leon Sorokin), MIT: small fast charts for the operator console

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm init -y >/dev/null 2>&1
npm install --no-audit --no-fund --ignore-scripts --save-exact \
  "qrcode-generator@$QRCODE_VERSION" "uplot@$UPLOT_VERSION" >/dev/null

mkdir -p "$here/qrcode-generator" "$here/uplot"
cp node_modules/qrcode-generator/dist/qrcode.mjs "$here/qrcode-generator/qrcode.js"
# The package ships no LICENSE file; its source header says "Copyright (c) 2009 Kazuhiko Arase,
# Licensed under the MIT license" and package.json says "MIT": write that licence beside it.
head -16 node_modules/qrcode-generator/dist/qrcode.mjs | grep -q "Licensed under the MIT license"
{
  echo "qrcode-generator $QRCODE_VERSION (npm) - MIT License, as declared in its source header"
  echo "and package.json (the package ships no LICENSE file)."
  echo
  echo "Copyright (c) 2009 Kazuhiko Arase"
  echo
  cat <<'MIT'
Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
MIT
} > "$here/qrcode-generator/LICENSE"
cp node_modules/uplot/dist/uPlot.esm.js "$here/uplot/uPlot.esm.js"
cp node_modules/uplot/dist/uPlot.min.css "$here/uplot/uPlot.min.css"
cp node_modules/uplot/LICENSE "$here/uplot/LICENSE"

echo "vendored: qrcode-generator $QRCODE_VERSION, uplot $UPLOT_VERSION into $here"
