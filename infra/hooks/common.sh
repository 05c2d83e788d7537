# Shared by the azd hooks (sourced, not run). azd exports the environment's values, Bicep outputs included
# (infra/main.bicep), as environment variables.

die() {
  echo "ERROR: $*" >&2
  exit 1
}

require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "$name is not set; run this through azd (azd provision / azd deploy), or export it from 'azd env get-values'"
  done
}

require_az() {
  command -v az >/dev/null 2>&1 || die "the Azure CLI ('az') is needed by this hook: https://learn.microsoft.com/cli/azure/install-azure-cli"
  az account show --only-show-errors --output none 2>/dev/null || die "the Azure CLI is not signed in; run 'az login' (the same account as 'azd auth login')"
  if [[ -n "${AZURE_SUBSCRIPTION_ID:-}" ]]; then
    az account set --subscription "$AZURE_SUBSCRIPTION_ID" --only-show-errors || die "cannot select subscription $AZURE_SUBSCRIPTION_ID with the Azure CLI"
  fi
}

# Retries a command while it fails, for role assignments that take minutes to reach Key Vault and for a host that is
# still loading the functions just deployed. Bounded: attempts x delay seconds.
retry() {
  local attempts="$1" delay="$2" i
  shift 2
  for ((i = 1; i <= attempts; i++)); do
    if "$@"; then return 0; fi
    ((i < attempts)) && sleep "$delay"
  done
  return 1
}

# Names of the secrets in the vault (one per line); fails while the operator's role is not effective yet.
vault_secret_names() {
  az keyvault secret list --vault-name "$AZURE_KEY_VAULT_NAME" --query '[].name' --output tsv --only-show-errors
}

vault_has_secret() {
  local names
  names="$(retry 20 15 vault_secret_names)" ||
    die "cannot list the secrets of key vault $AZURE_KEY_VAULT_NAME; the Key Vault Secrets Officer role for your account (principalId) may not be effective yet, or was not assigned (AZURE_PRINCIPAL_ID empty): see docs/deploy.md"
  grep -qx -- "$1" <<<"$names"
}

# Writes a secret from a file, so the value never appears on a command line (visible to other local users).
vault_set_secret_from_file() {
  local name="$1" file="$2" content_type="$3"
  az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$name" --file "$file" --encoding utf-8 \
    --content-type "$content_type" --output none --only-show-errors ||
    die "could not write secret $name to key vault $AZURE_KEY_VAULT_NAME"
}

function_app_id() {
  az functionapp show --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" --query id --output tsv --only-show-errors
}

# App Service re-reads Key Vault references every 24 hours; this makes it read them now (App Service docs,
# app-service-key-vault-references, "Understand rotation"). A relative URL keeps az on the current cloud's ARM.
refresh_key_vault_references() {
  local id
  id="$(function_app_id)" || die "cannot find function app $AZURE_FUNCTION_APP_NAME in $AZURE_RESOURCE_GROUP"
  az rest --method post --url "${id}/config/configreferences/appsettings/refresh?api-version=2022-03-01" --output none --only-show-errors ||
    echo "WARNING: could not ask the app to re-read its Key Vault references; it will within 24 hours, or at the next settings change" >&2
}
