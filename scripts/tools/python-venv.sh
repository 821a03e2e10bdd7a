# A Python virtual environment with Mixpeek's published SDK (test/contract/requirements.txt, every
# package pinned), for the SDK contract test. Built once per requirements file into
# $CACHE/venv-<hash of the file and the Python version>; PyPI is only asked here, never at test time.
# Needs Python >= 3.9 with the venv module (`python3`, or the interpreter PYTHON points at).
# CONTRACT_PYTHON points at an interpreter that already has the packages instead.
PYTHON_VENV_REQUIREMENTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/contract/requirements.txt"

resolve_python_venv() {
  if [ -n "${CONTRACT_PYTHON:-}" ]; then
    [ -x "$CONTRACT_PYTHON" ] || { say "CONTRACT_PYTHON=$CONTRACT_PYTHON is not an executable file"; exit 3; }
    echo "CONTRACT_PYTHON=$CONTRACT_PYTHON"; return
  fi
  local python="${PYTHON:-python3}"
  if ! command -v "$python" >/dev/null 2>&1 \
    || ! "$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    say "the SDK contract test needs Python >= 3.9 with the venv module ($python is missing or unfit):"
    say "install python3 and python3-venv, point PYTHON at such an interpreter, or CONTRACT_PYTHON at one"
    say "with the packages of $PYTHON_VENV_REQUIREMENTS installed."
    exit 3
  fi
  local key dir
  key="$( { cat "$PYTHON_VENV_REQUIREMENTS"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-16)"
  dir="$CACHE/venv-$key"
  if [ ! -f "$dir/.complete" ]; then
    say "creating the Python environment for the SDK contract test in $dir, first run only..."
    rm -rf "$dir"
    "$python" -m venv "$dir" >&2
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
      -r "$PYTHON_VENV_REQUIREMENTS" >&2 \
      || { rm -rf "$dir"; say "installing $PYTHON_VENV_REQUIREMENTS failed"; exit 3; }
    touch "$dir/.complete"
    say "built $dir"
  fi
  echo "CONTRACT_PYTHON=$dir/bin/python"
}
