# Switchboard server image (`switchboard serve`, and `switchboard worker` with another command).
# Build from the repository root: docker build -t switchboard .
# Dependencies come from uv.lock (uv sync --frozen); the offline speech engines need nothing
# from the OS: espeak-ng (library and voice data) and PocketSphinx ship inside their wheels,
# Silero VAD and Smart Turn inside pipecat's.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy \
    ENV=production HOST=0.0.0.0 PORT=8000 DATA_DIR=/data \
    PATH=/app/.venv/bin:$PATH
WORKDIR /app
RUN pip install --no-cache-dir "uv==0.13.9"

# Dependencies first (a layer that changes only with uv.lock), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY server server
COPY pipeline pipeline
COPY telephony telephony
COPY runtime runtime
COPY db db
COPY loadgen loadgen
COPY migrations migrations
RUN uv sync --frozen --no-dev \
    && python -c "import espeakng_loader, os; assert os.path.isdir(espeakng_loader.get_data_path())"

# Run unprivileged. DATA_DIR holds the recording spool (RECORDINGS_URL=s3://...) or the
# recordings themselves, generated keys, and the embedded PostgreSQL when DATABASE_URL is unset.
RUN useradd --create-home --uid 10001 switchboard && mkdir -p /data && chown switchboard /data
USER 10001
VOLUME ["/data"]
EXPOSE 8000
# SIGTERM drains: readiness fails, new calls are refused, live calls get SHUTDOWN_GRACE_SECONDS.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)" || exit 1
CMD ["switchboard", "serve"]
