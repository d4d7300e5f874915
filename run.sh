#!/usr/bin/env bash
# The course's one entry point.
#   bash run.sh setup       create or repair .venv (Python 3.11): the pinned packages, Jupyter, the notebook git filter
#   bash run.sh lab         start JupyterLab at the course folder (course/ and exercises/), dlcourse on the terminal's PATH
#   bash run.sh formgrader  start JupyterLab from grading/ with nbgrader's instructor tools, at the Formgrader page
#   bash run.sh demo        set up, grade the bundled example class in grading/demo/ (exercises/ is never touched)
#   bash run.sh test        set up, run the whole test suite
#   bash run.sh bench       set up, run the benchmarks (notebook times and memory, data, architectures, grading, modules 06-09)
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv

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

apt_install() {
    # apt_install WHAT PACKAGE...: install Debian/Ubuntu packages quietly where we may (as root), else say how.
    local what=$1; shift
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get install -y -qq "$@" >/dev/null 2>&1 ||
         { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null 2>&1; }) ||
            echo "run.sh: could not install $* ($what)." >&2
    else
        echo "run.sh: $* not installed ($what); install it, e.g. sudo apt-get install $*." >&2
    fi
}

install_sandbox_tool() {
    # Grading runs each submission inside bubblewrap.
    command -v bwrap >/dev/null 2>&1 ||
        apt_install "grading refuses to run untrusted code without it" bubblewrap
}

install_browser() {
    # Module 07's labelling-widget test drives a real browser (Selenium with Chromium).
    { command -v chromium || command -v chromium-browser; } >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 &&
        return 0
    apt_install "the browser test of module 07 is skipped without them" chromium chromium-driver
}

as_root_flag() {
    # Jupyter refuses to run as root (containers) unless told.
    [ "$(id -u)" = 0 ] && echo --allow-root || true
}

setup() {
    local python
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        python=$(find_python)
        echo "Creating $VENV with $python ..."
        "$python" -m venv --clear "$VENV"
    fi
    # Verify what is installed against pyproject.toml's pins (not a stamp): a downgraded, missing or broken
    # package is reinstalled.
    if ! "$VENV/bin/python" -m dlcourse.environment --verify pyproject.toml >/dev/null 2>&1; then
        echo "Installing the course and its pinned dependencies into $VENV (a few minutes the first time) ..."
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
        if ! "$VENV/bin/python" -m dlcourse.environment --verify pyproject.toml; then
            echo "run.sh: $VENV still differs from the pins of pyproject.toml (above); remove $VENV and run this again." >&2
            exit 1
        fi
    fi
    "$VENV/bin/python" -m dlcourse.workspace
    install_sandbox_tool
    install_browser
}

case "${1:-}" in
    setup) setup ;;
    lab)   setup; PATH="$PWD/$VENV/bin:$PATH" exec "$VENV/bin/jupyter" lab $(as_root_flag) "${@:2}" ;;
    formgrader)
           setup; cd grading
           JUPYTER_CONFIG_PATH="$("../$VENV/bin/python" -c 'from dlcourse.workspace import instructor_config_dir as d; print(d())')" \
           PATH="$PWD/../$VENV/bin:$PATH" exec "../$VENV/bin/jupyter" lab --ServerApp.default_url=/formgrader $(as_root_flag) "${@:2}" ;;
    demo)  setup; "$VENV/bin/dlcourse" demo ;;
    test)  setup; "$VENV/bin/python" -m pytest -n 2 --dist loadgroup "${@:2}" ;;
    bench) setup; for bench in notebooks data architectures grading transfer active_learning search photo_search triplet; do "$VENV/bin/python" "benchmarks/bench_$bench.py"; done ;;
    *) sed -n '2,8p' "$0" | sed 's/^# //'; exit 2 ;;
esac
