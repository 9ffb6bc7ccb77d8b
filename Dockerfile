# One image for the API, the workers and the migrate step.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Dependencies first, so code changes do not reinstall torch. constraints.txt pins torch 2.13.0,
# which on Linux x86-64 is PyPI's CUDA build: the same image runs on CPU and GPU hosts. The cloud
# extra reads datasets from S3, GCS and Azure (and keeps uploads in S3: docker-compose.yml).
COPY pyproject.toml constraints.txt README.md ./
RUN mkdir -p service workers && touch service/__init__.py workers/__init__.py \
    && pip install -c constraints.txt '.[cloud]' \
    && pip uninstall -y loss-search

COPY service ./service
COPY workers ./workers
COPY migrations ./migrations
COPY bench/datasets ./bench/datasets
RUN pip install --no-deps -c constraints.txt -e .

ENV LOSS_SEARCH_API_HOST=0.0.0.0 LOSS_SEARCH_DATA_ROOTS=/data,/app/bench/datasets
EXPOSE 8000
CMD ["loss-search", "api"]
