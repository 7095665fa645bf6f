#!/usr/bin/env bash
# Install the peers that bench/ compares reloader with, from PyPI, into a
# virtual environment of their own: bench/.peers-X.Y (gitignored).
#   bench/setup_peers.sh [PYTHON]     PYTHON defaults to the 3.12 one ../run uses
# Pinned so that results are comparable between runs; bump on purpose.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${1:-}
if [ -z "$py" ]; then
    py=$(ls -d "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/3.12.* 2>/dev/null \
         | grep -v 't$' | sort -V | tail -n 1)/bin/python3.12
fi
ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv="$here/.peers-$ver"
peers=(ipython==9.18.1 jurigged==0.6.1 pydevd==3.5.0)
stamp="$venv/.installed-$(echo "${peers[*]}" | tr ' =' '_-')"
if [ -f "$stamp" ]; then
    exit 0
fi
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${peers[@]}"
rm -f "$venv"/.installed-*
touch "$stamp"
echo "peers installed in $venv: ${peers[*]}" >&2
