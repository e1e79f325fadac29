# The daemon in a container: sources.toml and the database live in the volume /data (docs/production.md).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md sources.toml ./
COPY ingest ./ingest
COPY deploy/docker-entrypoint.sh /usr/local/bin/ingest-entrypoint
# A regular install (not -e): the image runs the installed package, with the `postgres` extra (psycopg,
# procrastinate) for a PostgreSQL --db (docker-compose.postgres.yml); a system user that owns only its folders:
# the volume and /published, where that compose file's publisher writes the snapshot Datasette serves.
RUN pip install --no-cache-dir '.[postgres]' \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin ingest \
    && mkdir -p /data/db /published && chown -R ingest:ingest /data /published \
    && chmod 0755 /usr/local/bin/ingest-entrypoint
# With no sources.toml in the volume, the entry point copies the shipped one there (INGEST_SHIPPED_CONFIG) on the
# first start: edit it in the volume and restart.
ENV INGEST_CONFIG=/data/sources.toml INGEST_DB=/data/db/news.db INGEST_SHIPPED_CONFIG=/app/sources.toml \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
WORKDIR /data
USER ingest
# `ingest health` exits 1 when a source has had no success within its lag (2 on a missing database: Docker reserves
# 2, hence `|| exit 1`). The first passes start within seconds of the daemon; the start period covers them.
HEALTHCHECK --interval=5m --timeout=60s --start-period=15m --retries=2 CMD ingest health || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["ingest-entrypoint"]
CMD ["ingest", "run"]
