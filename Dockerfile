# The worker and scheduler image for tuner on Kubernetes (and any Dask deployment).
# Built from the same requirements.lock as the local .venv and environment.yml, so the client and
# the workers run exactly the same versions of every library.
#
#   docker build -t registry.example.com/tuner:0.1.0 .
#
# Stage 1 builds wheels (compilers live here only); stage 2 is the small runtime image.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY tuner ./tuner
RUN python -m venv /opt/tuner \
    && /opt/tuner/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/tuner/bin/pip install --no-cache-dir -r requirements.lock \
    && /opt/tuner/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim-bookworm
# tini is PID 1 so that SIGTERM (a node's termination notice) reaches the Dask process;
# libgomp1 is the OpenMP runtime that XGBoost, LightGBM and scikit-learn load.
RUN apt-get update && apt-get install -y --no-install-recommends tini libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 tuner
COPY --from=build /opt/tuner /opt/tuner
ENV PATH=/opt/tuner/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    OMP_NUM_THREADS=1
USER 1000
WORKDIR /home/tuner
ENTRYPOINT ["tini", "-g", "--"]
CMD ["dask", "worker", "--help"]
