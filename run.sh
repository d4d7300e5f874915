#!/usr/bin/env bash
# The course's one entry point.
#   bash run.sh setup   create .venv (Python 3.11) and install the course with its pinned dependencies
#   bash run.sh demo    set up, build exercises/ from solutions/, grade the bundled example class
#   bash run.sh test    set up, run the whole test suite
#   bash run.sh bench   set up, run the benchmarks (notebook times and memory, data generation)
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
STAMP="$VENV/.installed-from"

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "run.sh: the course needs Python 3.11 (python3.11 or python3 on PATH, or PYTHON=/path/to/python3.11)." >&2
    echo "        Install it (e.g. from python.org, pyenv or your package manager), or use the conda route in README.md." >&2
    return 1
}

install_sandbox_tool() {
    # Grading runs each submission inside bubblewrap; install it where we may (Debian/Ubuntu as root).
    command -v bwrap >/dev/null 2>&1 && return 0
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get install -y -qq bubblewrap >/dev/null 2>&1 ||
         { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; }) ||
            echo "run.sh: could not install bubblewrap; grading will refuse to run untrusted code without it." >&2
    else
        echo "run.sh: bubblewrap (bwrap) is not installed; install it to grade (e.g. sudo apt-get install bubblewrap)." >&2
    fi
}

setup() {
    local python fingerprint
    python=$(find_python)
    fingerprint=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
    if [ ! -x "$VENV/bin/python" ]; then
        echo "Creating $VENV with $python ..."
        "$python" -m venv "$VENV"
    fi
    if [ "$(cat "$STAMP" 2>/dev/null)" != "$fingerprint" ]; then
        echo "Installing the course and its pinned dependencies into $VENV (a few minutes the first time) ..."
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
        echo "$fingerprint" > "$STAMP"
    fi
    install_sandbox_tool
}

case "${1:-}" in
    setup) setup ;;
    demo)  setup; "$VENV/bin/dlcourse" demo ;;
    test)  setup; "$VENV/bin/python" -m pytest -n 2 --dist loadgroup "${@:2}" ;;
    bench) setup; for bench in notebooks data architectures grading; do "$VENV/bin/python" "benchmarks/bench_$bench.py"; done ;;
    *) sed -n '2,6p' "$0" | sed 's/^# //'; exit 2 ;;
esac
