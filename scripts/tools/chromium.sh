# chromium: the headless browser the dashboard test (test/integration/dashboard.test.ts) drives with
# puppeteer-core. Debian's package (bookworm's security line, 156.x at the time of writing), installed
# with apt-get when missing. Opt-in like rclone: `provision.sh chromium` (the test asks for it).
OPT_IN_TOOLS="${OPT_IN_TOOLS:-} chromium"

resolve_chromium() {
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    [ -x "$CHROMIUM_PATH" ] || { say "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file"; exit 3; }
    echo "CHROMIUM_PATH=$CHROMIUM_PATH"; return
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
      say "chromium is not installed: run \`sudo apt-get install -y chromium\` (Debian's package),"
      say "or point CHROMIUM_PATH at a Chromium or Chrome binary."
      exit 3
    fi
    say "installing Debian's chromium package (first run only)..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2 \
      || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2; }
  fi
  echo "CHROMIUM_PATH=$(command -v chromium)"
}
