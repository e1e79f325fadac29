#!/bin/sh
# The image's entry point: on the first start, seed the volume with the shipped sources.toml; then run the command
# (`ingest run`, `ingest serve ...`) in this process's place, so it receives SIGTERM itself.
set -eu
config="${INGEST_CONFIG:-/data/sources.toml}"
if [ ! -e "$config" ]; then
    cp "${INGEST_SHIPPED_CONFIG:-/app/sources.toml}" "$config"
    echo "ingest-entrypoint: no $config in the volume: copied the shipped sources.toml there; edit it and restart" >&2
fi
exec "$@"
