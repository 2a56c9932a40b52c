#!/bin/sh
# Starts the service named by ESIGN_SERVICE (its bundle, built by `pnpm build`); any arguments are
# passed to it. `exec` makes node tini's direct child, so SIGTERM reaches it and the worker drains.
set -eu
case "${ESIGN_SERVICE:-api}" in
  api | worker | notifier | esign-sim) entry="services/${ESIGN_SERVICE:-api}/dist/main.js" ;;
  all-in-one) entry="services/all-in-one/dist/main.js" ;;
  *)
    echo "entrypoint: unknown ESIGN_SERVICE '${ESIGN_SERVICE}' (api, worker, notifier, esign-sim, all-in-one)" >&2
    exit 64
    ;;
esac
exec node "$entry" "$@"
