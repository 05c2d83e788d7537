import { describe, expect, it } from 'vitest';
import { ConfigurationError, loadSettings } from '../../shared/config.js';

const valid = {
  SYNC_TENANT_ID: '11111111-2222-4333-8444-555555555555',
  SYNC_CLIENT_ID: '66666666-7777-4888-9999-aaaaaaaaaaaa',
  SYNC_CLIENT_SECRET: 'secret-value',
  DATAVERSE_URL: 'https://contoso.crm.dynamics.com/',
  DATAVERSE_WEBHOOK_KEY: 'k'.repeat(40),
  WEBHOOK_BASE_URL: 'https://sync-app.azurewebsites.net/api',
  SYNC_TABLES_URL: 'https://acct.table.core.windows.net',
  ServiceBusConnection__fullyQualifiedNamespace: 'ns.servicebus.windows.net',
};

describe('configuration', () => {
  it('parses a valid environment, applies defaults and freezes the result', () => {
    const settings = loadSettings(valid);
    expect(settings.DATAVERSE_URL).toBe('https://contoso.crm.dynamics.com');
    expect(settings.GRAPH_BASE_URL).toBe('https://graph.microsoft.com');
    expect(settings.SYNC_CONFLICT_POLICY).toBe('lastModifiedWins');
    expect(settings.SYNC_PROPAGATE_CANCELLATIONS).toBe(false);
    expect(settings.SYNC_WINDOW_PAST_DAYS).toBe(30);
    expect(Object.isFrozen(settings)).toBe(true);
  });

  it('reads the schedule of the periodic work, and refuses a To Do poll maximum below its minimum, naming both', () => {
    const settings = loadSettings(valid);
    expect([settings.SYNC_TODO_POLL_MIN_SECONDS, settings.SYNC_TODO_POLL_MAX_SECONDS, settings.SYNC_RECONCILE_PERIOD_MINUTES, settings.SYNC_RENEW_CHECK_MINUTES, settings.SYNC_SWEEP_PAGE_SIZE]).toEqual([60, 900, 15, 30, 100]);
    expect(() => loadSettings({ ...valid, SYNC_TODO_POLL_MIN_SECONDS: '600', SYNC_TODO_POLL_MAX_SECONDS: '300' })).toThrow(/SYNC_TODO_POLL_MAX_SECONDS.*SYNC_TODO_POLL_MIN_SECONDS \(600\)/);
    expect(() => loadSettings({ ...valid, SYNC_SWEEP_PAGE_SIZE: '5000' })).toThrow(/SYNC_SWEEP_PAGE_SIZE/);
  });

  it('reads the Application Insights settings: optional, and named when malformed', () => {
    expect(loadSettings(valid).APPLICATIONINSIGHTS_CONNECTION_STRING).toBeUndefined();
    const on = loadSettings({
      ...valid,
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-1111-4222-8333-444444444444;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
      // As infra/modules/functionapp.bicep writes it.
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=66666666-7777-4888-9999-aaaaaaaaaaaa;Authorization=AAD',
    });
    expect(on.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toContain('Authorization=AAD');
    let error: unknown;
    try {
      loadSettings({ ...valid, APPLICATIONINSIGHTS_CONNECTION_STRING: 'https://example.org', APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=abc' });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigurationError).problems.map((p) => p.setting).sort()).toEqual(['APPLICATIONINSIGHTS_AUTHENTICATION_STRING', 'APPLICATIONINSIGHTS_CONNECTION_STRING']);
  });

  it('fails once, naming every missing or invalid setting', () => {
    const env = { ...valid, DATAVERSE_URL: 'http://insecure.example', SYNC_CLIENT_ID: undefined, SYNC_WINDOW_PAST_DAYS: '-3' };
    let error: unknown;
    try {
      loadSettings(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const problems = (error as ConfigurationError).problems.map((p) => p.setting).sort();
    expect(problems).toEqual(['DATAVERSE_URL', 'SYNC_CLIENT_ID', 'SYNC_WINDOW_PAST_DAYS']);
    expect((error as Error).message).toContain('SYNC_CLIENT_ID: is required but not set');
    expect((error as Error).message).toContain('DATAVERSE_URL: must be the Dataverse environment URL (an https URL)');
  });

  it('requires one credential, one table store and one Service Bus connection', () => {
    const { SYNC_CLIENT_SECRET: _s, SYNC_TABLES_URL: _t, ServiceBusConnection__fullyQualifiedNamespace: _n, ...rest } = valid;
    expect(() => loadSettings(rest)).toThrow(/SYNC_CLIENT_SECRET: one of SYNC_CLIENT_SECRET or SYNC_CLIENT_CERTIFICATE[\s\S]*SYNC_TABLES_URL[\s\S]*ServiceBusConnection__fullyQualifiedNamespace/);
  });

  it('treats an empty setting as not set', () => {
    expect(() => loadSettings({ ...valid, DATAVERSE_WEBHOOK_KEY: '  ' })).toThrow(/DATAVERSE_WEBHOOK_KEY: is required but not set/);
  });
});

describe('configuration: Key Vault references', () => {
  it('names a Key Vault reference that App Service could not resolve instead of using its text as the value', () => {
    expect(() => loadSettings({ ...valid, DATAVERSE_WEBHOOK_KEY: '@Microsoft.KeyVault(VaultName=kv;SecretName=dataverse-webhook-key)' })).toThrow(
      /DATAVERSE_WEBHOOK_KEY: is a Key Vault reference that did not resolve/,
    );
  });

  it('reads the budgets: shared by default, the Dataverse defaults at 90% and 92% of the documented limits', () => {
    const settings = loadSettings(valid);
    expect([settings.SYNC_GRAPH_BUDGET, settings.SYNC_DATAVERSE_BUDGET, settings.SYNC_DATAVERSE_REQUESTS_PER_5_MINUTES, settings.SYNC_DATAVERSE_CONCURRENT_REQUESTS]).toEqual(['shared', 'shared', 5400, 47]);
    expect(settings.DATAVERSE_APPLICATION_USERS).toEqual([]);
    expect(() => loadSettings({ ...valid, SYNC_GRAPH_BUDGET: 'on' })).toThrow(/SYNC_GRAPH_BUDGET: must be shared, local or off/);
  });

  it('reads further application users, each naming the app setting of its secret, and names every problem without a secret', () => {
    const second = '77777777-7777-4888-9999-bbbbbbbbbbbb';
    const settings = loadSettings({ ...valid, DATAVERSE_APPLICATION_USERS: JSON.stringify([{ clientId: second.toUpperCase(), secretSetting: 'APP2_SECRET' }]), APP2_SECRET: 'second-secret' });
    expect(settings.DATAVERSE_APPLICATION_USERS).toEqual([{ clientId: second, secretSetting: 'APP2_SECRET' }]);
    const problems = (env: Record<string, string>) => {
      try {
        loadSettings({ ...valid, ...env });
      } catch (error) {
        return (error as ConfigurationError).message;
      }
      return '';
    };
    expect(problems({ DATAVERSE_APPLICATION_USERS: '[{' })).toMatch(/DATAVERSE_APPLICATION_USERS: must be a JSON list/);
    expect(problems({ DATAVERSE_APPLICATION_USERS: JSON.stringify([{ clientId: 'nope', secretSetting: 'A' }]) })).toMatch(/\[0\]\.clientId: must be the application \(client\) id/);
    expect(problems({ DATAVERSE_APPLICATION_USERS: JSON.stringify([{ clientId: second }]) })).toMatch(/exactly one of secretSetting or certificateSetting/);
    expect(problems({ DATAVERSE_APPLICATION_USERS: JSON.stringify([{ clientId: second, secret: 'inline' }]) })).toMatch(/DATAVERSE_APPLICATION_USERS/);
    expect(problems({ DATAVERSE_APPLICATION_USERS: JSON.stringify([{ clientId: second, secretSetting: 'APP2_SECRET' }]) })).toMatch(/APP2_SECRET: is required by DATAVERSE_APPLICATION_USERS\[0\] but not set/);
    expect(problems({ DATAVERSE_APPLICATION_USERS: JSON.stringify([{ clientId: valid.SYNC_CLIENT_ID, secretSetting: 'APP2_SECRET' }]), APP2_SECRET: 'x' })).toMatch(/listed twice/);
    const unresolved = problems({ DATAVERSE_APPLICATION_USERS: JSON.stringify([{ clientId: second, certificateSetting: 'APP2_CERT' }]), APP2_CERT: '@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/c)' });
    expect(unresolved).toMatch(/APP2_CERT: is a Key Vault reference that did not resolve/);
    expect(problems({ DATAVERSE_APPLICATION_USERS: JSON.stringify([{ clientId: second, secretSetting: 'APP2_SECRET' }]), APP2_SECRET: 'second-secret' })).toBe('');
  });
});
