// Where the CLI's settings come from: --env-file (dotenv or JSON), the environment winning over files, and the
// settings an azd environment lacks filled from its outputs and Key Vault.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fillFromAzdEnvironment, mergeEnv, readEnvFile, UsageError } from '../../shared/cli/env.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readEnvFile', () => {
  it('reads dotenv syntax (comments, quotes, export-less lines)', () => {
    const path = join(dir, 'settings.env');
    writeFileSync(path, '# deployment settings\nDATAVERSE_URL=https://contoso.crm.dynamics.com\nSYNC_CLIENT_SECRET="a b=c"\n');
    expect(readEnvFile(path)).toEqual({ DATAVERSE_URL: 'https://contoso.crm.dynamics.com', SYNC_CLIENT_SECRET: 'a b=c' });
  });

  it('reads a flat JSON object of strings and names what is wrong with any other JSON', () => {
    const good = join(dir, 'env.json');
    writeFileSync(good, JSON.stringify({ WEBHOOK_BASE_URL: 'http://127.0.0.1:7071/api' }));
    expect(readEnvFile(good)).toEqual({ WEBHOOK_BASE_URL: 'http://127.0.0.1:7071/api' });
    const nested = join(dir, 'nested.json');
    writeFileSync(nested, JSON.stringify({ A: { b: 1 } }));
    expect(() => readEnvFile(nested)).toThrow(new UsageError(`--env-file ${nested} must be a JSON object whose values are all strings (A is not)`));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{');
    expect(() => readEnvFile(broken)).toThrow(/is not valid JSON/);
  });

  it('lets a variable set in the environment win over the file, as Node --env-file does', () => {
    expect(mergeEnv({ A: 'env', B: '', C: undefined }, [{ A: 'file', B: 'file', C: 'file' }, { C: 'second file' }])).toEqual({ A: 'env', B: 'file', C: 'second file' });
  });
});

describe('fillFromAzdEnvironment', () => {
  const azd = {
    AZURE_TENANT_ID: '11111111-1111-1111-1111-111111111111',
    AZURE_STORAGE_ACCOUNT_NAME: 'stabc123',
    SERVICE_BUS_NAMESPACE: 'sb-abc123.servicebus.windows.net',
    AZURE_KEY_VAULT_NAME: 'kv-abc123',
    SYNC_CLIENT_CREDENTIAL_TYPE: 'secret',
    SYNC_CLIENT_CREDENTIAL_VAULT_ENTRY: 'sync-client-secret',
    DATAVERSE_WEBHOOK_KEY_VAULT_ENTRY: 'dataverse-webhook-key',
  };
  const vault: Record<string, string> = {
    'sync-client-secret': 'the-secret',
    'dataverse-webhook-key': 'k'.repeat(64),
    'graph-notifications-function-key': 'graph-key',
    'dataverse-webhook-function-key': 'dv-key',
  };
  const read = (name: string) => Promise.resolve(vault[name]);

  it('derives identity-based settings from the outputs and reads the secrets the app reads from Key Vault', async () => {
    const { env, filled } = await fillFromAzdEnvironment(azd, read);
    expect(env).toMatchObject({
      SYNC_TENANT_ID: azd.AZURE_TENANT_ID,
      SYNC_TABLES_URL: 'https://stabc123.table.core.windows.net',
      ServiceBusConnection__fullyQualifiedNamespace: 'sb-abc123.servicebus.windows.net',
      SYNC_CLIENT_SECRET: 'the-secret',
      DATAVERSE_WEBHOOK_KEY: 'k'.repeat(64),
      GRAPH_NOTIFICATION_FUNCTION_KEY: 'graph-key',
      DATAVERSE_WEBHOOK_FUNCTION_KEY: 'dv-key',
    });
    expect(filled).toContain('SYNC_CLIENT_SECRET (from Key Vault kv-abc123, sync-client-secret)');
    expect(env).not.toHaveProperty('SYNC_CLIENT_CERTIFICATE');
  });

  it('never replaces a setting that is set, and reads the certificate for a certificate deployment', async () => {
    const asked: string[] = [];
    const { env } = await fillFromAzdEnvironment(
      { ...azd, SYNC_TENANT_ID: '22222222-2222-2222-2222-222222222222', SYNC_CLIENT_CREDENTIAL_TYPE: 'certificate', SYNC_CLIENT_CREDENTIAL_VAULT_ENTRY: 'sync-client-certificate', DATAVERSE_WEBHOOK_KEY: 'x'.repeat(40) },
      (name) => {
        asked.push(name);
        return Promise.resolve(name === 'sync-client-certificate' ? '-----BEGIN PRIVATE KEY-----' : undefined);
      },
    );
    expect(env.SYNC_TENANT_ID).toBe('22222222-2222-2222-2222-222222222222');
    expect(env.DATAVERSE_WEBHOOK_KEY).toBe('x'.repeat(40));
    expect(env.SYNC_CLIENT_CERTIFICATE).toBe('-----BEGIN PRIVATE KEY-----');
    expect(asked).not.toContain('dataverse-webhook-key');
    expect(env).not.toHaveProperty('GRAPH_NOTIFICATION_FUNCTION_KEY');
  });

  it('keeps a connection string setup local: no table URL or namespace is derived over it', async () => {
    const { env } = await fillFromAzdEnvironment({ ...azd, AZURE_KEY_VAULT_NAME: undefined, SYNC_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true', ServiceBusConnection: 'Endpoint=sb://x' }, read);
    expect(env).not.toHaveProperty('SYNC_TABLES_URL');
    expect(env).not.toHaveProperty('ServiceBusConnection__fullyQualifiedNamespace');
    expect(env).not.toHaveProperty('SYNC_CLIENT_SECRET');
  });
});
