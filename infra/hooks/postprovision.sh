#!/usr/bin/env bash
# azd postprovision hook: puts the secrets the app's Key Vault references point to into Key Vault, so no secret is
# ever a template parameter or output (infra/modules/keyvault.bicep).
#  - dataverse-webhook-key: generated here once (64 hex characters), kept on later runs.
#  - the sync app's credential (sync-client-secret or sync-client-certificate): from the file named by
#    SYNC_CLIENT_CREDENTIAL_FILE, else asked for at the terminal; without either, the hook says how to set it later.
# Existing secrets are never overwritten: rotation is a deliberate step (docs/operations.md).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
# shellcheck source=infra/hooks/common.sh
. "$(dirname "$0")/common.sh"

require_env AZURE_KEY_VAULT_NAME AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME SYNC_CLIENT_CREDENTIAL_TYPE \
  SYNC_CLIENT_CREDENTIAL_VAULT_ENTRY DATAVERSE_WEBHOOK_KEY_VAULT_ENTRY
require_az

workdir="$(mktemp -d)"
chmod 700 "$workdir"
trap 'rm -rf "$workdir"' EXIT
changed=false

if vault_has_secret "$DATAVERSE_WEBHOOK_KEY_VAULT_ENTRY"; then
  echo "Key Vault $AZURE_KEY_VAULT_NAME: $DATAVERSE_WEBHOOK_KEY_VAULT_ENTRY exists, kept."
else
  command -v openssl >/dev/null 2>&1 || die "openssl is needed to generate the Dataverse webhook key"
  # config.ts requires at least 32 characters.
  printf '%s' "$(openssl rand -hex 32)" >"$workdir/webhook-key"
  vault_set_secret_from_file "$DATAVERSE_WEBHOOK_KEY_VAULT_ENTRY" "$workdir/webhook-key" "text/plain"
  echo "Key Vault $AZURE_KEY_VAULT_NAME: generated $DATAVERSE_WEBHOOK_KEY_VAULT_ENTRY."
  changed=true
fi

credential="$SYNC_CLIENT_CREDENTIAL_VAULT_ENTRY"
if vault_has_secret "$credential"; then
  echo "Key Vault $AZURE_KEY_VAULT_NAME: $credential exists, kept."
else
  source_file=""
  if [[ -n "${SYNC_CLIENT_CREDENTIAL_FILE:-}" ]]; then
    [[ -r "$SYNC_CLIENT_CREDENTIAL_FILE" ]] || die "SYNC_CLIENT_CREDENTIAL_FILE=$SYNC_CLIENT_CREDENTIAL_FILE is not a readable file"
    source_file="$SYNC_CLIENT_CREDENTIAL_FILE"
  elif [[ -t 0 && "$SYNC_CLIENT_CREDENTIAL_TYPE" == "secret" ]]; then
    read -r -s -p "Client secret of the sync app registration ${SYNC_CLIENT_ID:-} [empty to skip]: " value
    echo
    if [[ -n "$value" ]]; then
      printf '%s' "$value" >"$workdir/credential"
      source_file="$workdir/credential"
    fi
    unset value
  elif [[ -t 0 ]]; then
    read -r -p "Path of the PEM file (certificate and private key) of the sync app registration [empty to skip]: " path
    [[ -z "$path" || -r "$path" ]] || die "$path is not a readable file"
    source_file="$path"
  fi
  if [[ -n "$source_file" ]]; then
    if [[ "$SYNC_CLIENT_CREDENTIAL_TYPE" == "certificate" ]]; then
      grep -q 'PRIVATE KEY' "$source_file" || die "$source_file has no PRIVATE KEY block; the app needs the certificate and its private key in one PEM file"
      vault_set_secret_from_file "$credential" "$source_file" "application/x-pem-file"
    else
      vault_set_secret_from_file "$credential" "$source_file" "text/plain"
    fi
    echo "Key Vault $AZURE_KEY_VAULT_NAME: stored $credential."
    changed=true
  else
    cat >&2 <<MSG
WARNING: Key Vault $AZURE_KEY_VAULT_NAME has no $credential yet, so the app cannot start (it reports
SYNC_CLIENT_SECRET or SYNC_CLIENT_CERTIFICATE as invalid). Store it, then run 'azd hooks run postprovision':
  az keyvault secret set --vault-name $AZURE_KEY_VAULT_NAME --name $credential --file <file>
MSG
  fi
fi

if [[ "$changed" == true ]]; then
  refresh_key_vault_references
fi
