# A NADG worker, ready for a Hugging Face Space (Docker SDK) or any container host.
#
#   docker build -f deploy/worker.Dockerfile -t nadg-worker .
#   docker run -p 7860:7860 -e NADG_AUTH_TOKEN=... nadg-worker
#
# On a Space: set NADG_AUTH_TOKEN as a secret; the Space's URL is https://$SPACE_HOST.
FROM python:3.11-slim

# bubblewrap for the sandbox; util-linux brings setpriv/prlimit; curl for the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap util-linux curl \
    && rm -rf /var/lib/apt/lists/*

# Spaces run the container as uid 1000; so do we everywhere.
RUN useradd --create-home --uid 1000 nadg
WORKDIR /app
COPY --chown=nadg:nadg pyproject.toml README.md ./
COPY --chown=nadg:nadg src ./src
RUN pip install --no-cache-dir .

USER nadg
ENV HOME=/home/nadg \
    PYTHONUNBUFFERED=1 \
    PORT=7860 \
    NADG_HOST=0.0.0.0
EXPOSE 7860

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/health" || exit 1

# Without NADG_AUTH_TOKEN the worker refuses to listen on 0.0.0.0 (say --insecure to override).
CMD ["sh", "-c", "exec nadg -v worker --host \"$NADG_HOST\" --port \"$PORT\""]
