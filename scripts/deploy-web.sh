#!/usr/bin/env bash
# Publishes the web app to a deployed stack (after `sam deploy`): builds web/dist, uploads
# it to the stack's WebBucket (hashed assets cached for a year; the pages revalidated on
# every load), writes the stack's WebConfig output as config.json, and invalidates the
# two files whose names do not change. Needs the AWS CLI with the deployer's credentials.
#
# usage: scripts/deploy-web.sh STACK_NAME
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:?usage: scripts/deploy-web.sh STACK_NAME}
command -v aws >/dev/null 2>&1 || { echo "deploy-web: the AWS CLI is required" >&2; exit 1; }

output() {
  aws cloudformation describe-stacks --stack-name "$stack" --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

bash scripts/build-web.sh
bucket=$(output WebBucketName)
distribution=$(output WebDistributionId)
config=$(mktemp)
trap 'rm -f "$config"' EXIT
output WebConfig > "$config"
# The app refuses settings it can't read: check them before they go live.
python3 - "$config" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
fields = {"apiBaseUrl", "authorizeUrl", "logoutUrl", "clientId", "scope", "redirectUri", "logoutRedirectUri"}
missing = fields - config.keys()
if missing:
    sys.exit(f"deploy-web: the stack's WebConfig lacks {sorted(missing)}")
PY

# New assets first, so the pages never name a file that is not there yet; old assets stay
# for pages already open (the bucket keeps replaced versions 30 days).
aws s3 sync web/dist/assets "s3://$bucket/assets" --cache-control "public, max-age=31536000, immutable"
aws s3 sync web/dist "s3://$bucket" --exclude "assets/*" --exclude "config.json" --cache-control "no-cache" --delete
aws s3 cp "$config" "s3://$bucket/config.json" --content-type application/json --cache-control "no-cache"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths /index.html /config.json >/dev/null
echo "deploy-web: published to $(output WebUrl)" >&2
