#!/usr/bin/env bash
# azd postdeploy hook: after the code is deployed (function keys exist only once the host has loaded the functions),
# makes sure the webhook functions have their own named keys, keeps a copy of each in Key Vault for the setup CLI,
# gives the status page the status endpoint's key, checks both, and prints the next setup commands. Keys are never
# printed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
# shellcheck source=infra/hooks/common.sh
. "$(dirname "$0")/common.sh"

require_env AZURE_KEY_VAULT_NAME AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME WEBHOOK_BASE_URL
require_az

# function name (functions/README.md) -> key name -> Key Vault secret that keeps a copy of the key.
webhooks=(
  "graphNotifications graph graph-notifications-function-key"
  "dataverseWebhook dataverse dataverse-webhook-function-key"
)

deployed_functions() {
  az functionapp function list --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --query '[].name' --output tsv --only-show-errors 2>/dev/null | sed 's|.*/||'
}

functions_loaded() {
  local names entry
  names="$(deployed_functions)" || return 1
  for entry in "${webhooks[@]}" "status - -" "statusPage - -"; do
    grep -qx -- "${entry%% *}" <<<"$names" || return 1
  done
}

echo "Waiting for $AZURE_FUNCTION_APP_NAME to list its functions..."
retry 24 10 functions_loaded ||
  die "$AZURE_FUNCTION_APP_NAME does not list graphNotifications, dataverseWebhook, status and statusPage after 4 minutes. Listed: $(deployed_functions | tr '\n' ' '). Check the deployment ('az functionapp log deployment show') and the app's startup errors (docs/operations.md, 'Reading logs')."

function_key() {
  az functionapp function keys list --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --function-name "$1" --query "\"$2\"" --output tsv --only-show-errors
}

workdir="$(mktemp -d)"
chmod 700 "$workdir"
trap 'rm -rf "$workdir"' EXIT

for entry in "${webhooks[@]}"; do
  read -r fn key secret <<<"$entry"
  value="$(function_key "$fn" "$key")" || die "cannot read the keys of function $fn"
  if [[ -z "$value" ]]; then
    # A named key per webhook: rotating one (docs/operations.md) leaves the other's registrations working.
    az functionapp function keys set --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
      --function-name "$fn" --key-name "$key" --output none --only-show-errors ||
      die "cannot create key '$key' on function $fn"
    value="$(function_key "$fn" "$key")"
    [[ -n "$value" ]] || die "key '$key' on function $fn was created but cannot be read back"
    echo "Created function key '$key' for $fn."
  fi
  stored="$(az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$secret" --query value --output tsv --only-show-errors 2>/dev/null || true)"
  if [[ "$stored" != "$value" ]]; then
    printf '%s' "$value" >"$workdir/key"
    vault_set_secret_from_file "$secret" "$workdir/key" "text/plain"
    echo "Key Vault $AZURE_KEY_VAULT_NAME: stored the key of $fn as $secret."
  fi
done
unset value stored

status_key="$(function_key status default)" || die "cannot read the default key of function status"
# Function keys are per function; the status page takes the status endpoint's key too (as key 'status'), so one key
# opens both, and rotating the status key (docs/operations.md) means running this hook again.
if [[ "$(function_key statusPage status)" != "$status_key" ]]; then
  az functionapp function keys set --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --function-name statusPage --key-name status --key-value "$status_key" --output none --only-show-errors ||
    die "cannot give function statusPage the key of function status"
  echo "The status page takes the status endpoint's key."
fi
status_code="$(curl --silent --output "$workdir/status" --write-out '%{http_code}' --max-time 60 \
  --header "x-functions-key: $status_key" "$WEBHOOK_BASE_URL/status" || true)"
page_code="$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 60 \
  --header "x-functions-key: $status_key" "$WEBHOOK_BASE_URL/status/page" || true)"
unset status_key
echo "GET $WEBHOOK_BASE_URL/status/page -> HTTP ${page_code:-no answer}"
[[ "$page_code" == 200 ]] || echo "WARNING: the status page did not answer 200 with the status key; see docs/deploy.md, 'Verify'." >&2
[[ "$status_code" == 000 ]] && status_code=""
echo "GET $WEBHOOK_BASE_URL/status -> HTTP ${status_code:-no answer}"
if [[ "$status_code" != 200 ]]; then
  echo "WARNING: the status function did not answer 200; see docs/deploy.md, 'Verify'." >&2
  head -c 2000 "$workdir/status" >&2 2>/dev/null || true
  echo >&2
fi

cat <<MSG

Deployed. Webhook endpoints (function keys are in Key Vault $AZURE_KEY_VAULT_NAME, never printed):
  Graph notifications: $WEBHOOK_BASE_URL/graph/notifications   (key: graph-notifications-function-key)
  Dataverse webhook:   $WEBHOOK_BASE_URL/dataverse/webhook     (key: dataverse-webhook-function-key)
  Status page:         $WEBHOOK_BASE_URL/status/page           (the status key: az functionapp function keys list --function-name status)

Next (docs/deploy.md, step 5), from the repository root:
  eval "\$(azd env get-values)"
  npm run cli -- dataverse register-webhooks
  npm run cli -- mailbox enable <user@your-domain>
MSG
