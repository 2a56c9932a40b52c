#!/bin/sh
# Starts the service named by ESIGN_SERVICE; any arguments are passed to it.
# `exec` keeps tsx in tini's direct care, so SIGTERM reaches it (tsx relays it to Node).
set -eu
case "${ESIGN_SERVICE:-api}" in
  api | worker | notifier | esign-sim) entry="services/${ESIGN_SERVICE:-api}/src/main.ts" ;;
  all-in-one) entry="services/api/src/all-in-one.ts" ;;
  *)
    echo "entrypoint: unknown ESIGN_SERVICE '${ESIGN_SERVICE}' (api, worker, notifier, esign-sim, all-in-one)" >&2
    exit 64
    ;;
esac
exec tsx "$entry" "$@"
