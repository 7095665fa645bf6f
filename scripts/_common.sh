# Shared by scripts/sanitize.sh and scripts/memcheck.sh (sourced, not run).
#   make_copy DIR   copy this checkout (no venvs, builds, .so, .git) to DIR/src
#   find_python V   path of a CPython V (PATH, then pyenv), as ./run does
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

find_python() {
    local v=$1 cand root
    cand=$(command -v "python$v" 2>/dev/null || true)
    # (a pyenv shim is on PATH for every installed version, but fails unless
    # that version is selected: accept a candidate only if it runs)
    if [ -n "$cand" ] && "$cand" -c pass >/dev/null 2>&1; then echo "$cand"; return; fi
    if command -v pyenv >/dev/null 2>&1; then
        root=$(pyenv root)
        for cand in $(ls -d "$root"/versions/"$v".* 2>/dev/null | sort -V -r); do
            case "$cand" in *t) continue ;; esac
            if [ -x "$cand/bin/python$v" ]; then echo "$cand/bin/python$v"; return; fi
        done
    fi
    echo "no CPython $v found (looked on PATH and under pyenv)" >&2
    exit 2
}

make_copy() {
    local dest=$1
    rm -rf "$dest/src"
    mkdir -p "$dest/src"
    tar -C "$here" --exclude='./.venv*' --exclude='./.git' --exclude='*.so' \
        --exclude='./build' --exclude='__pycache__' --exclude='.hypothesis' \
        --exclude='.pytest_cache' --exclude='*.egg-info' -cf - . | tar -C "$dest/src" -xf -
}

# venv_install DEST PY ENV...: a venv in DEST/venv with an editable install of
# DEST/src built with the given environment (RELOADER_SANITIZE=1, ...).
venv_install() {
    local dest=$1 py=$2
    shift 2
    if [ ! -x "$dest/venv/bin/python" ]; then
        "$py" -m venv "$dest/venv"
        "$dest/venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
    fi
    (cd "$dest/src" && env "$@" "$dest/venv/bin/python" -m pip install --quiet \
        --no-build-isolation -e ".[test]")
}
