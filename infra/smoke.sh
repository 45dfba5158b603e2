#!/usr/bin/env bash
# Smoke test of a real deployment: deploy this checkout to a Google Cloud project, push a sample
# application, and check its history, drift (detected and healed) and a rollback.
#
#   infra/smoke.sh PROJECT_ID BUCKET REPO_URL [DESTINATION]
#
#   PROJECT_ID   the project to deploy into, set up once as README.md "Deploy to Google Cloud" says
#                (the secrets have values; the functions' RBAC is applied in the cluster)
#   BUCKET       Terraform's state bucket; gs://BUCKET/gitops/clusters.tfvars.json names the clusters
#   REPO_URL     an https GitHub repository you may push to (git uses your credentials); the sample
#                application is committed under smoke/RUN/ on BRANCH and removed at the end; the
#                script sends the pushes itself (gitops webhook send), so the repository's own
#                webhook should not point at this deployment
#   DESTINATION  a key of the clusters file (default in-cluster); kubectl's current context must be
#                that cluster (gcloud container clusters get-credentials ...)
#
# Environment: REGION (default europe-west1), BRANCH (default main). Needs gcloud, terraform,
# docker, kubectl, git and this checkout's .venv (bash stack/setup.sh). Application-default
# credentials (gcloud auth application-default login) with roles/datastore.user and
# roles/pubsub.publisher in PROJECT_ID for the CLI, and what Terraform needs to deploy.
# tests/unit/test_smoke.py checks that every gitops and terraform command here exists as written.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -ge 3 ]] || { sed -n 5,15p "$0" >&2; exit 2; }
PROJECT_ID=$1 BUCKET=$2 REPO_URL=$3 DESTINATION=${4:-in-cluster}
REGION=${REGION:-europe-west1} BRANCH=${BRANCH:-main}
RUN=$(date -u +%Y%m%d%H%M%S)
APP=smoke-$RUN NS=gitops-smoke-$RUN
PY=$PWD/.venv/bin/python
export GOOGLE_CLOUD_PROJECT=$PROJECT_ID
step() { echo "[smoke] $*" >&2; }
fail() { echo "[smoke] FAILED: $*" >&2; exit 1; }
gitops() { "$PWD/.venv/bin/gitops" "$@"; }
# field FILTER: a Python expression over `d`, the JSON on stdin
field() { "$PY" -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

# ---- deploy (README.md's commands; the plan checked as Cloud Build checks it) -----------------
step "deploying to $PROJECT_ID ($REGION)"
mkdir -p build
gcloud storage cp "gs://$BUCKET/gitops/clusters.tfvars.json" build/clusters.tfvars.json
terraform -chdir=infra init -input=false -backend-config=bucket=$BUCKET
"$PY" -m infra.runtime prepare build/render
terraform -chdir=infra apply -input=false -auto-approve -var=project_id=$PROJECT_ID -var=region=$REGION -var-file=$PWD/build/clusters.tfvars.json -var=render_image=unused -target=google_artifact_registry_repository.images
IMAGE=$REGION-docker.pkg.dev/$PROJECT_ID/gitops/render:smoke-$RUN
docker build -f functions/render/Dockerfile -t $IMAGE .
docker push $IMAGE
DIGEST=$(docker inspect --format='{{index .RepoDigests 0}}' $IMAGE)
terraform -chdir=infra plan -input=false -out=$PWD/build/tfplan -var=project_id=$PROJECT_ID -var=region=$REGION -var-file=$PWD/build/clusters.tfvars.json -var=render_image=$DIGEST
terraform -chdir=infra show -json $PWD/build/tfplan > build/plan.json
"$PY" -m infra.plancheck build/plan.json
terraform -chdir=infra apply -input=false $PWD/build/tfplan
URL=$(terraform -chdir=infra output -raw webhook_url)
SECRET=$(gcloud secrets versions access latest --secret=gitops-webhook-secret --project=$PROJECT_ID)

# ---- RBAC: the functions may only impersonate the projects' accounts (README.md) ------------------
step "RBAC on $DESTINATION: the functions' own, and the default project's"
sed "s/PROJECT_ID/$PROJECT_ID/" infra/kubernetes/rbac.yaml | kubectl apply -f -
gitops project rbac default --cluster $DESTINATION | kubectl apply -f -

# ---- a sample application ------------------------------------------------------------------
work=$(mktemp -d)
git clone --quiet --branch "$BRANCH" "$REPO_URL" "$work/repo"
configmap() {
  mkdir -p "$work/repo/smoke/$RUN"
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: smoke\ndata:\n  greeting: %s\n' "$1" > "$work/repo/smoke/$RUN/cm.yaml"
  git -C "$work/repo" add "smoke/$RUN" && git -C "$work/repo" commit --quiet -m "gitops smoke $RUN: greeting $1"
  git -C "$work/repo" push --quiet origin "$BRANCH"
  git -C "$work/repo" rev-parse HEAD
}
greeting() { kubectl get configmap smoke -n "$NS" -o jsonpath='{.data.greeting}'; }
history_count() { gitops -o json app history $APP | field "len(d)"; }
wait_history() {  # COUNT: until the application has COUNT history entries
  for _ in $(seq 120); do [[ $(history_count) -ge $1 ]] && return 0; sleep 5; done
  fail "no history entry $1 of $APP after 10 minutes"
}

step "application $APP -> $DESTINATION/$NS, from $REPO_URL smoke/$RUN"
kubectl create namespace "$NS"
gitops app create $APP --repo $REPO_URL --path smoke/$RUN --revision $BRANCH --dest-cluster $DESTINATION --dest-namespace $NS --sync-policy automated --auto-prune --self-heal
FIRST=$(configmap one)
gitops webhook send $URL --repo $REPO_URL --sha $FIRST --ref refs/heads/$BRANCH --message smoke --secret $SECRET

# ---- history ---------------------------------------------------------------------------------
step "history: the push is synced"
wait_history 1
gitops app wait $APP --health --timeout 600
[[ $(gitops -o json app history $APP | field "d[-1]['commit']") == "$FIRST" ]] || fail "history entry 1 is not $FIRST"
[[ $(greeting) == one ]] || fail "the cluster does not hold the pushed ConfigMap"

# ---- drift: a hand edit is detected by the sweep and healed -----------------------------------
step "drift: a hand edit, healed by the sweep"
kubectl patch configmap smoke -n "$NS" -p '{"data":{"greeting":"by hand"}}'
gitops sweep $APP --wait --timeout 600
wait_history 2
[[ $(gitops -o json app history $APP | field "d[-1]['initiator']") == self-heal ]] || fail "the drift was not self-healed"
[[ $(greeting) == one ]] || fail "the hand edit is still there"
gitops app diff $APP || fail "desired and live still differ after the heal"

# ---- a second push, then a rollback to the first -----------------------------------------------
step "rollback: a second push, then back to the first"
SECOND=$(configmap two)
gitops webhook send $URL --repo $REPO_URL --sha $SECOND --before $FIRST --ref refs/heads/$BRANCH --message smoke --secret $SECRET
wait_history 3
[[ $(greeting) == two ]] || fail "the second push was not applied"
gitops app rollback $APP 1 --wait --timeout 600
[[ $(greeting) == one ]] || fail "the rollback did not restore the first commit"
[[ $(gitops -o json app get $APP | field "bool(d['status'].get('pin'))") == True ]] || fail "the rollback did not pin"

# ---- clean up --------------------------------------------------------------------------------
step "cleaning up"
gitops app delete $APP --cascade
kubectl delete namespace "$NS" --wait=false
git -C "$work/repo" rm --quiet -r "smoke/$RUN" && git -C "$work/repo" commit --quiet -m "gitops smoke $RUN: done"
git -C "$work/repo" push --quiet origin "$BRANCH"
rm -rf "$work"
step "passed: deploy, history, drift (detected and self-healed) and rollback on $PROJECT_ID"
