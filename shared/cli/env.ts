// Where the CLI's settings come from: the environment (as the app reads it), optionally a file loaded first, and, for
// a deployment made with `azd up`, the azd environment's outputs plus the secrets the app reads from Key Vault, so
// `eval "$(azd env get-values)"` is all an operator needs before running a command.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { z } from 'zod';

export type Env = Record<string, string | undefined>;

/** A problem with the command line or its inputs (exit code 2). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const jsonEnvSchema = z.record(z.string(), z.string());

/**
 * Reads a settings file: dotenv syntax (the format of Node's --env-file and process.loadEnvFile, parsed with
 * util.parseEnv so process.env is left alone), or a flat JSON object of strings when the name ends in .json (the
 * `.local/sandbox/env.json` that `npm start` writes).
 */
export function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--env-file ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (path.toLowerCase().endsWith('.json')) {
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (error) {
      throw new UsageError(`--env-file ${path} is not valid JSON: ${(error as Error).message}`);
    }
    const parsed = jsonEnvSchema.safeParse(value);
    if (!parsed.success) {
      const where = parsed.error.issues[0]?.path.join('.');
      throw new UsageError(`--env-file ${path} must be a JSON object whose values are all strings${where ? ` (${where} is not)` : ''}`);
    }
    return parsed.data;
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parseEnv(text))) if (v !== undefined) out[k] = v;
  return out;
}

/** Merges settings files under the environment: a variable that is set wins over a file, as with Node's --env-file. */
export function mergeEnv(env: Env, files: readonly Record<string, string>[]): Env {
  const merged: Env = {};
  for (const file of files) Object.assign(merged, file);
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') merged[k] = v;
  return merged;
}

/** Key Vault secret names the infrastructure and hooks use (infra/main.bicep secretNames, infra/hooks/postdeploy.sh). */
export const vaultSecrets = {
  clientSecret: 'sync-client-secret',
  clientCertificate: 'sync-client-certificate',
  dataverseWebhookKey: 'dataverse-webhook-key',
  graphNotificationFunctionKey: 'graph-notifications-function-key',
  dataverseWebhookFunctionKey: 'dataverse-webhook-function-key',
} as const;

export type SecretReader = (secretName: string) => Promise<string | undefined>;

const isSet = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/**
 * Fills the app settings an `azd` environment does not carry by name: SYNC_TENANT_ID from AZURE_TENANT_ID,
 * SYNC_TABLES_URL from AZURE_STORAGE_ACCOUNT_NAME, the Service Bus namespace from SERVICE_BUS_NAMESPACE, and the
 * secrets from Key Vault (AZURE_KEY_VAULT_NAME). Only settings that are not set are filled; returns what it filled.
 */
export async function fillFromAzdEnvironment(env: Env, readSecret: SecretReader): Promise<{ env: Env; filled: string[] }> {
  const out: Env = { ...env };
  const filled: string[] = [];
  const derive = (setting: string, value: string | undefined, from: string) => {
    if (isSet(out[setting]) || !isSet(value)) return;
    out[setting] = value;
    filled.push(`${setting} (from ${from})`);
  };
  derive('SYNC_TENANT_ID', env.AZURE_TENANT_ID, 'AZURE_TENANT_ID');
  if (!isSet(out.SYNC_TABLES_CONNECTION_STRING) && isSet(env.AZURE_STORAGE_ACCOUNT_NAME)) {
    derive('SYNC_TABLES_URL', `https://${env.AZURE_STORAGE_ACCOUNT_NAME}.table.core.windows.net`, 'AZURE_STORAGE_ACCOUNT_NAME');
  }
  if (!isSet(out.ServiceBusConnection)) derive('ServiceBusConnection__fullyQualifiedNamespace', env.SERVICE_BUS_NAMESPACE, 'SERVICE_BUS_NAMESPACE');
  if (!isSet(env.AZURE_KEY_VAULT_NAME)) return { env: out, filled };
  const vault = `Key Vault ${env.AZURE_KEY_VAULT_NAME}`;
  const secret = async (setting: string, name: string) => {
    if (isSet(out[setting])) return;
    const value = await readSecret(name);
    if (!isSet(value)) return;
    out[setting] = value;
    filled.push(`${setting} (from ${vault}, ${name})`);
  };
  if (!isSet(out.SYNC_CLIENT_SECRET) && !isSet(out.SYNC_CLIENT_CERTIFICATE)) {
    const type = env.SYNC_CLIENT_CREDENTIAL_TYPE === 'certificate' ? 'certificate' : 'secret';
    const entry = env.SYNC_CLIENT_CREDENTIAL_VAULT_ENTRY ?? (type === 'certificate' ? vaultSecrets.clientCertificate : vaultSecrets.clientSecret);
    await secret(type === 'certificate' ? 'SYNC_CLIENT_CERTIFICATE' : 'SYNC_CLIENT_SECRET', entry);
  }
  await secret('DATAVERSE_WEBHOOK_KEY', env.DATAVERSE_WEBHOOK_KEY_VAULT_ENTRY ?? vaultSecrets.dataverseWebhookKey);
  await secret('GRAPH_NOTIFICATION_FUNCTION_KEY', vaultSecrets.graphNotificationFunctionKey);
  await secret('DATAVERSE_WEBHOOK_FUNCTION_KEY', vaultSecrets.dataverseWebhookFunctionKey);
  return { env: out, filled };
}

const secretBundleSchema = z.object({ value: z.string() });

/**
 * Reads Key Vault secrets with the signed-in account (DefaultAzureCredential: az login, azd auth, environment),
 * through the REST API (Get Secret, api-version 7.4): no Key Vault SDK is a dependency. A missing secret is
 * undefined; no permission is an error naming the vault and the secret.
 */
export function keyVaultSecretReader(vaultName: string, credential: TokenCredential = new DefaultAzureCredential()): SecretReader {
  return async (name) => {
    const token = await credential.getToken('https://vault.azure.net/.default');
    if (!token) throw new Error(`no token for Key Vault ${vaultName}: sign in with 'az login'`);
    const res = await fetch(`https://${vaultName}.vault.azure.net/secrets/${encodeURIComponent(name)}?api-version=7.4`, {
      headers: { Authorization: `Bearer ${token.token}` },
    });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`Key Vault ${vaultName} refused to read secret ${name} (HTTP ${res.status}); your account needs Key Vault Secrets User or Officer on the vault`);
    const body = secretBundleSchema.safeParse(await res.json());
    if (!body.success) throw new Error(`Key Vault ${vaultName} answered secret ${name} without a value`);
    return body.data.value;
  };
}
