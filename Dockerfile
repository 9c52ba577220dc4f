# driftline's one image: every service (`driftline serve|monitor|retrain|produce|bootstrap|
# topics create`) and the MLflow tracking server of docker-compose.yaml run from it.
#
#   docker build -t driftline:local .
#   docker run --rm driftline:local --help
#
# Kafka runs as its own container (apache/kafka), so no Java here. driftline depends on
# psycopg2-binary, so the same image serves MLflow against Postgres: the server is then
# exactly the MLflow version the services use as clients.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN groupadd --gid 10001 driftline \
    && useradd --uid 10001 --gid driftline --create-home --shell /usr/sbin/nologin driftline \
    && mkdir -p /var/lib/driftline/mlflow-artifacts \
    && chown -R driftline:driftline /var/lib/driftline

WORKDIR /src

# Dependencies first, at the versions of requirements.lock, against empty packages (and an
# empty README), so that editing the source or the README does not reinstall them.
COPY pyproject.toml requirements.lock ./
RUN for pkg in driftline producers scorer monitor retrainer; do \
        mkdir -p "$pkg" && touch "$pkg/__init__.py"; \
    done \
    && touch README.md \
    && pip install -c requirements.lock . \
    && pip uninstall --yes driftline \
    && rm -rf README.md driftline producers scorer monitor retrainer

COPY README.md ./
COPY driftline ./driftline
COPY producers ./producers
COPY scorer ./scorer
COPY monitor ./monitor
COPY retrainer ./retrainer

# Services keep their state (DRIFTLINE_HOME, with the monitor's faust data folder under it) in a
# folder the unprivileged user owns.
ENV DRIFTLINE_HOME=/var/lib/driftline \
    MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false
WORKDIR /var/lib/driftline
RUN pip install --no-deps /src \
    && rm -rf /src \
    && driftline --help > /dev/null
# Numeric, so that a runtime can check it is not root without reading /etc/passwd.
USER 10001:10001

# scorer HTTP, monitor /metrics, retrainer /metrics, MLflow
EXPOSE 8000 9102 9103 5000

ENTRYPOINT ["driftline"]
CMD ["--help"]
