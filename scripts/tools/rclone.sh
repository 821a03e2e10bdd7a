# rclone: the baseline the benchmarks under bench/ compare against (`npm run bench`). It is Debian's
# package (1.60.1 in bookworm), installed with apt-get, not built with Go: the point is to compare
# with the rclone users actually run. Opt-in: `provision.sh` without arguments (what `npm test` and
# `npm run dev` run) does not provision it; `provision.sh rclone` does.
RCLONE_DEBIAN_VERSION=1.60.1
OPT_IN_TOOLS="${OPT_IN_TOOLS:-} rclone"

resolve_rclone() {
  if [ -n "${RCLONE_PATH:-}" ]; then
    [ -x "$RCLONE_PATH" ] || { say "RCLONE_PATH=$RCLONE_PATH is not an executable file"; exit 3; }
    echo "RCLONE_PATH=$RCLONE_PATH"; return
  fi
  if ! command -v rclone >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
      say "rclone is not installed and this is not a Debian-like system: install rclone $RCLONE_DEBIAN_VERSION"
      say "or point RCLONE_PATH at an rclone binary."
      exit 3
    fi
    if [ "$(id -u)" -ne 0 ]; then
      say "rclone is not installed: run \`sudo apt-get install -y rclone\` (Debian's $RCLONE_DEBIAN_VERSION),"
      say "or point RCLONE_PATH at an rclone binary."
      exit 3
    fi
    say "installing Debian's rclone package (first run only)..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y rclone >&2 \
      || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y rclone >&2; }
  fi
  local bin version
  bin="$(command -v rclone)"
  version="$("$bin" version 2>/dev/null | sed -n '1s/^rclone v//p')"
  case "$version" in
    "$RCLONE_DEBIAN_VERSION"*) ;;
    *) say "note: rclone at $bin is ${version:-of unknown version}, not Debian's $RCLONE_DEBIAN_VERSION" ;;
  esac
  echo "RCLONE_PATH=$bin"
}
