# Switchboard server image. Build: docker build -t switchboard .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv UV_COMPILE_BYTECODE=1 \
    ENV=production HOST=0.0.0.0 PORT=8000 DATA_DIR=/data
WORKDIR /app
RUN pip install --no-cache-dir uv

COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY server server
COPY pipeline pipeline
COPY telephony telephony
COPY runtime runtime
COPY db db
COPY migrations migrations
RUN uv sync --frozen --no-dev

# Run unprivileged; the embedded PostgreSQL (when DATABASE_URL is unset) lives in /data.
RUN useradd --create-home --uid 10001 switchboard && mkdir -p /data && chown switchboard /data
USER switchboard
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/health/live')" || exit 1
CMD ["/app/.venv/bin/switchboard", "serve"]
