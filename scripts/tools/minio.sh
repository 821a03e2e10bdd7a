# MinIO: the S3-compatible server the `s3` provider's conformance suite and S3 sync test run against.
# MinIO publishes RELEASE.* tags, which are not semver, so the pin is a pseudo-version: the head of the
# community repository (RELEASE.2025-10-15T17-29-55Z plus four server fixes and README changes; the
# project is in maintenance mode). Its go.mod has no `replace` directive, so a plain `go install` builds
# it; the module proxy serves this version but not the tag's own commit.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

resolve_minio() {
  if [ -n "${MINIO_PATH:-}" ]; then
    [ -x "$MINIO_PATH" ] || { say "MINIO_PATH=$MINIO_PATH is not an executable file"; exit 3; }
    echo "MINIO_PATH=$MINIO_PATH"; return
  fi
  if command -v minio >/dev/null 2>&1; then
    echo "MINIO_PATH=$(command -v minio)"; return
  fi
  local bin
  bin="$(go_install_pinned "minio-$MINIO_VERSION" "github.com/minio/minio@$MINIO_VERSION" minio MINIO_PATH)"
  echo "MINIO_PATH=$bin"
}
