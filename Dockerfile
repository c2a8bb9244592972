# Haven exchange image: the locked dependencies, then the code.
FROM python:3.11-slim
ENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy PYTHONUNBUFFERED=1
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY exchange exchange
COPY matching matching
COPY schema schema
RUN uv sync --frozen --no-dev
EXPOSE 8000
# `haven serve` applies pending migrations before it listens.
CMD ["uv", "run", "--no-dev", "haven", "serve", "--host", "0.0.0.0", "--port", "8000"]
