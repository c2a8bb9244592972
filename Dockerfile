# Haven exchange image: the locked dependencies, then the code, run as a non-root user.
# The embedded PostgreSQL is left out: the image needs DATABASE_URL (docker-compose.yml
# sets it).
FROM python:3.11-slim
ENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH
# uv pinned: the lock file is read by the same uv that wrote it.
RUN pip install --no-cache-dir uv==0.13.9 \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin haven
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
# --frozen: exactly uv.lock, never re-resolved; no dev tools, no embedded PostgreSQL.
RUN uv sync --frozen --no-default-groups --no-install-project
COPY schema schema
COPY matching matching
COPY exchange exchange
COPY clients clients
RUN uv sync --frozen --no-default-groups --no-editable
# The code and the environment belong to root; the exchange cannot change them.
USER haven
EXPOSE 8000
# `haven serve` applies pending migrations before it listens; exec'd directly (PID 1
# gets SIGTERM and shuts down gracefully).
CMD ["haven", "serve", "--host", "0.0.0.0", "--port", "8000"]
