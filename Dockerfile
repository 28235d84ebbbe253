# The image of tuner's Dask scheduler, workers and in-cluster driver on Kubernetes (and any Dask
# deployment). Built from the same requirements.lock as the local .venv and environment.yml, so
# the client and the workers run exactly the same versions of every library; tuner checks this
# when it connects (tuner.versions.check_versions).
#
#   docker build -t registry.example.com/tuner:0.1.0 .
#
# Stage 1 builds the virtual environment (compilers live here only); stage 2 is the runtime
# image: no compilers, no pip cache, a non-root user (uid 1000, the uid the pod specs run as) and
# tini as PID 1 so that SIGTERM (a node's termination notice) reaches the Dask process.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# Debian's archive replaces package versions in place: pinning them would break rebuilds, and
# nothing from this stage reaches the runtime image except /opt/tuner.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/tuner \
    && /opt/tuner/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/tuner/bin/pip install --no-cache-dir -r requirements.lock
# tuner itself last, so that editing its code does not rebuild the dependency layer
COPY pyproject.toml README.md ./
COPY tuner ./tuner
RUN /opt/tuner/bin/pip install --no-cache-dir --no-deps . \
    && /opt/tuner/bin/pip check

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="tuner" \
      org.opencontainers.image.description="Distributed hyperparameter search on Dask: scheduler, worker and driver image" \
      org.opencontainers.image.licenses="BSD-3-Clause"
# tini: PID 1 that forwards signals (-g: to the whole process group, the nanny and its worker).
# libgomp1: the OpenMP runtime that XGBoost, LightGBM and scikit-learn load.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1000 tuner \
    && useradd --create-home --uid 1000 --gid 1000 tuner
COPY --from=build /opt/tuner /opt/tuner
ENV PATH=/opt/tuner/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMP_NUM_THREADS=1
USER 1000:1000
WORKDIR /home/tuner
# scheduler (comm, dashboard/HTTP API) and worker dashboard; never expose them outside the cluster
EXPOSE 8786 8787 8788
ENTRYPOINT ["tini", "-g", "--"]
# The DaskCluster spec sets the arguments: `dask scheduler ...` or `dask worker ...`;
# the in-cluster driver runs `tuner run CONFIG`.
CMD ["tuner", "--help"]
