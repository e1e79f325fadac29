# Mirrors the README quick start: install the package, run the daemon on sources.toml, db/ as a volume.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md sources.toml ./
COPY ingest ./ingest
RUN pip install --no-cache-dir -e .
VOLUME ["/app/db"]
ENV INGEST_CONFIG=/app/sources.toml INGEST_DB=/app/db/news.db
STOPSIGNAL SIGTERM
CMD ["ingest", "run"]
