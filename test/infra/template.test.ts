// Checks the compiled ARM template (.local/infra/main.json, written by infra/check.sh) against the contracts the code
// relies on: the app settings shared/config.ts reads, the queues of shared/servicebus/queues.ts, the tables of
// shared/storage/tableNames.ts, and the security rules for secrets (Key Vault references only, no secret outputs).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { applicationUserSecretSettingNames, platformSettingNames, settingNames, settingsSchema } from '../../shared/config.js';
import { queues } from '../../shared/servicebus/queues.js';
import { tableSuffixes } from '../../shared/storage/tableNames.js';
import { metricNames } from '../../shared/telemetry/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const compiledPath = join(root, '.local/infra/main.json');

// ARM JSON is loosely typed by nature; the assertions below are what give it shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return bicepFiles(path);
    return entry.name.endsWith('.bicep') || entry.name === 'bicepconfig.json' ? [path] : [];
  });
}

/** Compiles the templates when the JSON is missing or older than a .bicep file, so a stale build is never checked. */
function ensureCompiled(): void {
  const newestSource = Math.max(...bicepFiles(join(root, 'infra')).map((file) => statSync(file).mtimeMs));
  if (existsSync(compiledPath) && statSync(compiledPath).mtimeMs >= newestSource) return;
  try {
    execFileSync('bash', [join(root, 'infra/check.sh')], { cwd: root, stdio: 'pipe' });
  } catch (error) {
    const output = error instanceof Error && 'stderr' in error ? String((error as { stderr: unknown }).stderr) : String(error);
    throw new Error(`${compiledPath} is missing or stale and 'bash infra/check.sh' failed (run it to see why):\n${output}`, { cause: error });
  }
}

let main: Json;
/** Nested module templates by module symbol name (languageVersion 2.0: resources keyed by symbol). */
const modules: Record<string, Json> = {};

function moduleTemplate(name: string): Json {
  const template = modules[name];
  if (!template) throw new Error(`module '${name}' not found in main.json (modules: ${Object.keys(modules).join(', ')})`);
  return template;
}

function resourcesOf(template: Json): Json[] {
  const resources: Json[] | Record<string, Json> = template.resources ?? [];
  return Array.isArray(resources) ? resources : Object.values(resources);
}

function resourceOfType(template: Json, type: string): Json {
  const found = resourcesOf(template).filter((r) => r.type === type && !r.existing);
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return found[0]!;
}

function allTemplates(): Json[] {
  return [main, ...Object.values(modules)];
}

beforeAll(() => {
  ensureCompiled();
  main = JSON.parse(readFileSync(compiledPath, 'utf8')) as Json;
  for (const [name, resource] of Object.entries(main.resources as Json)) {
    if (resource.type === 'Microsoft.Resources/deployments') modules[name] = resource.properties.template;
  }
});

describe('app settings on the Function App', () => {
  let settings: Record<string, string>;
  let variables: Record<string, string>;

  beforeAll(() => {
    const app = moduleTemplate('functionApp');
    settings = resourceOfType(app, 'Microsoft.Web/sites/config').properties;
    variables = app.variables ?? {};
  });

  it('sets every setting config.ts requires (not optional, no default)', () => {
    const required = settingNames.filter((name) => !settingsSchema.shape[name as keyof typeof settingsSchema.shape].safeParse(undefined).success);
    expect(required.length).toBeGreaterThan(0);
    for (const name of required) {
      expect(settings[name], `${name} is required by shared/config.ts`).toEqual(expect.stringMatching(/\S/));
    }
  });

  it('sets the identity-based member of each "one of" pair in config.ts, never the connection string', () => {
    // The pairs are the superRefine rules of settingsSchema.
    expect(settings.SYNC_TABLES_URL).toMatch(/\S/);
    expect(settings.ServiceBusConnection__fullyQualifiedNamespace).toMatch(/\S/);
    expect(settings).not.toHaveProperty('SYNC_TABLES_CONNECTION_STRING');
    // A bare ServiceBusConnection would take precedence over the identity settings (azure-platform.md section 3).
    expect(settings).not.toHaveProperty('ServiceBusConnection');
    expect(settings).not.toHaveProperty('AzureWebJobsStorage');
    expect(settings.ServiceBusConnection__credential).toBe('managedidentity');
    expect(settings.AzureWebJobsStorage__credential).toBe('managedidentity');
  });

  it('sets exactly one client credential for each credential type', () => {
    const allowed: string[] = main.parameters.syncClientCredentialType.allowedValues;
    expect(allowed.sort()).toEqual(['certificate', 'secret']);
    expect(settings.SYNC_CLIENT_SECRET).toBe("[if(equals(parameters('clientCredentialType'), 'secret'), variables('clientSecretReference'), '')]");
    expect(settings.SYNC_CLIENT_CERTIFICATE).toBe(
      "[if(equals(parameters('clientCredentialType'), 'certificate'), variables('clientCertificateReference'), '')]",
    );
  });

  it('sets nothing config.ts does not know (settingNames + platformSettingNames)', () => {
    const known = new Set([...settingNames, ...platformSettingNames, ...applicationUserSecretSettingNames]);
    const unknown = Object.keys(settings).filter((name) => !known.has(name));
    expect(unknown, 'settings unknown to shared/config.ts').toEqual([]);
  });

  it('sets secrets only as Key Vault references', () => {
    const secretNames = ['SYNC_CLIENT_SECRET', 'SYNC_CLIENT_CERTIFICATE', 'DATAVERSE_WEBHOOK_KEY', 'GRAPH_NOTIFICATION_FUNCTION_KEY', ...applicationUserSecretSettingNames];
    // Anything named like a secret must be in the list above (the App Insights connection string is documented as
    // not a secret, and local auth is off on the component).
    const looksSecret = Object.keys(settings).filter(
      (name) => /SECRET|PASSWORD|CERTIFICATE|KEY$|CONNECTION_STRING|^ServiceBusConnection$/i.test(name) && name !== 'APPLICATIONINSIGHTS_CONNECTION_STRING',
    );
    expect(looksSecret.sort()).toEqual([...secretNames].sort());
    const keyVaultReference = /^\[format\('@Microsoft\.KeyVault\(VaultName=\{0\};SecretName=\{1\}\)', parameters\('keyVaultName'\), parameters\('secretNames'\)\.\w+\)\]$/;
    for (const name of secretNames) {
      const value = settings[name]!;
      const referenced = [...value.matchAll(/variables\('(\w+)'\)/g)].map((m) => m[1]!);
      expect(referenced, `${name} must take its value from a Key Vault reference variable`).toHaveLength(1);
      // Apart from the reference, only the empty string (credential not chosen) may appear as a literal.
      // (and the further application users' list, whose length says which of their secrets are set).
      const literals = [...value.replace(/parameters\('clientCredentialType'\), '(secret|certificate)'/, '').replace(/parameters\('dataverseApplicationUsers'\)/, '').matchAll(/'([^']*)'/g)].map((m) => m[1]);
      expect(literals.filter((l) => l !== '' && l !== referenced[0]), `${name} has a literal value`).toEqual([]);
      expect(variables[referenced[0]!], `${name}`).toMatch(keyVaultReference);
    }
    // The secret names are fixed strings (not parameters), so no value can be smuggled in through them.
    expect(main.resources.functionApp.properties.parameters.secretNames).toEqual({ value: "[variables('secretNames')]" });
    const names = Object.values(main.variables.secretNames as Record<string, string>);
    for (const name of names) expect(name).toMatch(/^[a-z][a-z0-9-]{2,126}$/);
  });

  it('passes no secret through the templates: no secure parameter anywhere', () => {
    for (const template of allTemplates()) {
      for (const [name, parameter] of Object.entries((template.parameters ?? {}) as Json)) {
        expect(['securestring', 'secureobject'], `parameter ${name}`).not.toContain(String(parameter.type).toLowerCase());
      }
    }
  });

  it('sets nothing Flex Consumption rejects', () => {
    // azure-platform.md section 1: replaced by functionAppConfig, or not valid on Flex.
    const rejected = [
      'FUNCTIONS_WORKER_RUNTIME',
      'FUNCTIONS_WORKER_RUNTIME_VERSION',
      'FUNCTIONS_EXTENSION_VERSION',
      'WEBSITE_NODE_DEFAULT_VERSION',
      'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
      'WEBSITE_CONTENTSHARE',
      'WEBSITE_RUN_FROM_PACKAGE',
      'SCM_DO_BUILD_DURING_DEPLOYMENT',
      'ENABLE_ORYX_BUILD',
      'WEBSITE_TIME_ZONE',
      'TZ',
      'FUNCTIONS_MAX_HTTP_CONCURRENCY',
      'FUNCTIONS_WORKER_PROCESS_COUNT',
    ];
    expect(Object.keys(settings).filter((name) => rejected.includes(name) || name.includes(':'))).toEqual([]);
    const site = resourceOfType(moduleTemplate('functionApp'), 'Microsoft.Web/sites');
    for (const property of ['ftpsState', 'alwaysOn', 'use32BitWorkerProcess', 'linuxFxVersion', 'functionAppScaleLimit', 'preWarmedInstanceCount']) {
      expect(site.properties.siteConfig ?? {}, property).not.toHaveProperty(property);
    }
  });
});

describe('Function App hosting and security', () => {
  it('runs Node 22 on Flex Consumption, deployed from blob storage with the managed identity', () => {
    const app = moduleTemplate('functionApp');
    const plan = resourceOfType(app, 'Microsoft.Web/serverfarms');
    expect(plan.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    const site = resourceOfType(app, 'Microsoft.Web/sites');
    expect(site.kind).toBe('functionapp,linux');
    expect(site.properties.functionAppConfig.runtime).toEqual({ name: 'node', version: '22' });
    expect(site.properties.functionAppConfig.deployment.storage.type).toBe('blobContainer');
    expect(site.properties.functionAppConfig.deployment.storage.authentication.type).toBe('UserAssignedIdentity');
    expect(site.identity.type).toBe('UserAssigned');
    expect(site.properties.keyVaultReferenceIdentity).toBe("[parameters('identityId')]");
  });

  it('is HTTPS only with TLS 1.2, and FTP and basic-auth publishing are off', () => {
    const app = moduleTemplate('functionApp');
    const site = resourceOfType(app, 'Microsoft.Web/sites');
    expect(site.properties.httpsOnly).toBe(true);
    expect(site.properties.siteConfig.minTlsVersion).toBe('1.2');
    const policies = resourcesOf(app).filter((r) => r.type === 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    expect(policies.map((p): [string | undefined, unknown] => [String(p.name).match(/'(ftp|scm)'/)?.[1], p.properties.allow]).sort()).toEqual([
      ['ftp', false],
      ['scm', false],
    ]);
  });

  it('uses no shared keys or local auth', () => {
    expect(resourceOfType(moduleTemplate('storage'), 'Microsoft.Storage/storageAccounts').properties).toMatchObject({
      allowSharedKeyAccess: false,
      minimumTlsVersion: 'TLS1_2',
      supportsHttpsTrafficOnly: true,
      allowBlobPublicAccess: false,
    });
    expect(resourceOfType(moduleTemplate('serviceBus'), 'Microsoft.ServiceBus/namespaces')).toMatchObject({
      sku: { name: 'Standard' },
      properties: { disableLocalAuth: true, minimumTlsVersion: '1.2' },
    });
    expect(resourceOfType(moduleTemplate('keyVault'), 'Microsoft.KeyVault/vaults').properties.enableRbacAuthorization).toBe(true);
    expect(resourceOfType(moduleTemplate('monitoring'), 'Microsoft.Insights/components').properties.DisableLocalAuth).toBe(true);
  });

  it('names every role assignment guid(scope, principal, role)', () => {
    const assignments = allTemplates().flatMap((t): Json[] => resourcesOf(t).filter((r) => r.type === 'Microsoft.Authorization/roleAssignments'));
    expect(assignments.length).toBeGreaterThanOrEqual(7);
    for (const assignment of assignments) {
      expect(assignment.name).toMatch(/^\[guid\(resourceId\(.+\), parameters\('(appPrincipalId|operatorPrincipalId)'\), variables\('roles'\)\.\w+\)\]$/);
    }
  });

  it('uses no module from a public registry', () => {
    for (const file of bicepFiles(join(root, 'infra'))) {
      expect(readFileSync(file, 'utf8'), file).not.toMatch(/'br[:/]/);
    }
  });
});

describe('Service Bus queues', () => {
  it('match shared/servicebus/queues.ts property for property', () => {
    const template = moduleTemplate('serviceBus');
    const declared = (template.variables.queues as Json[]).map((q): Json => ({ name: q.name as string, ...(q.properties as Json) }));
    const expected = queues.map((q) => ({ ...q, requiresDuplicateDetection: true }));
    expect(declared.map((q) => q.name as string)).toEqual(expected.map((q) => q.name));
    for (const queue of expected) {
      expect(declared.find((d) => d.name === queue.name)).toMatchObject(queue);
    }
    // The queue resources take name and properties from that variable, nothing else.
    const resource = resourceOfType(template, 'Microsoft.ServiceBus/namespaces/queues');
    expect(resource.copy.count).toBe("[length(variables('queues'))]");
    expect(resource.name).toBe("[format('{0}/{1}', parameters('name'), variables('queues')[copyIndex()].name)]");
    expect(resource.properties).toBe("[variables('queues')[copyIndex()].properties]");
  });
});

describe('tables', () => {
  it('match shared/storage/tableNames.ts, with the prefix config.ts defaults to', () => {
    const template = moduleTemplate('storage');
    expect(template.variables.tableSuffixes).toEqual(Object.values(tableSuffixes));
    const resource = resourceOfType(template, 'Microsoft.Storage/storageAccounts/tableServices/tables');
    expect(resource.copy.count).toBe("[length(variables('tableSuffixes'))]");
    expect(resource.name).toContain("format('{0}{1}', parameters('tablePrefix'), variables('tableSuffixes')[copyIndex()])");
    const configDefault = settingsSchema.shape.SYNC_TABLE_PREFIX.parse(undefined);
    expect(main.parameters.tablePrefix.defaultValue).toBe(configDefault);
    // The app and the storage module get the same prefix.
    expect(main.resources.storage.properties.parameters.tablePrefix.value).toBe("[parameters('tablePrefix')]");
    expect(main.resources.functionApp.properties.parameters.tablePrefix.value).toBe("[parameters('tablePrefix')]");
  });
});

describe('parameters and outputs', () => {
  it('describes and bounds every parameter of every template', () => {
    for (const template of allTemplates()) {
      for (const [name, parameter] of Object.entries((template.parameters ?? {}) as Json)) {
        expect(parameter.metadata?.description, `parameter ${name} needs @description`).toMatch(/\S/);
        const type = String(parameter.type).toLowerCase();
        if (type === 'string') {
          const bounded = parameter.maxLength !== undefined || parameter.allowedValues !== undefined;
          expect(bounded, `string parameter ${name} needs @maxLength or @allowed`).toBe(true);
        }
        if (type === 'int') {
          const bounded = (parameter.minValue !== undefined && parameter.maxValue !== undefined) || parameter.allowedValues !== undefined;
          expect(bounded, `int parameter ${name} needs @minValue/@maxValue or @allowed`).toBe(true);
        }
      }
    }
  });

  it('outputs nothing that looks like a secret, in SCREAMING_SNAKE_CASE', () => {
    const outputs = Object.entries(main.outputs as Json);
    expect(outputs.map(([name]) => name)).toEqual(expect.arrayContaining(['AZURE_FUNCTION_APP_NAME', 'AZURE_RESOURCE_GROUP', 'WEBHOOK_BASE_URL', 'AZURE_KEY_VAULT_NAME']));
    for (const [name, output] of outputs) {
      expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(name, 'output name').not.toMatch(/SECRET|PASSWORD|TOKEN|CONNECTION_STRING|FUNCTION_KEY|_KEY$/);
      expect(['securestring', 'secureobject']).not.toContain(String(output.type).toLowerCase());
    }
    // Nothing a list*() call returns (keys, connection strings) leaves any template, modules included.
    for (const template of allTemplates()) {
      for (const [name, output] of Object.entries((template.outputs ?? {}) as Json)) {
        expect(JSON.stringify(output), `output ${name}`).not.toMatch(/\blist\w*\(/i);
      }
    }
    expect(main.outputs.WEBHOOK_BASE_URL.value).toBe("[format('https://{0}/api', reference('functionApp').outputs.defaultHostName.value)]");
  });
});

describe('telemetry in Azure Monitor', () => {
  it('ingests with the app identity only: AAD authentication string, local auth off, Monitoring Metrics Publisher on the component', () => {
    const settings = resourceOfType(moduleTemplate('functionApp'), 'Microsoft.Web/sites/config').properties as Record<string, string>;
    // ClientId names the user-assigned identity (the format shared/telemetry's credentialOf reads).
    expect(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toBe("[format('ClientId={0};Authorization=AAD', parameters('identityClientId'))]");
    expect(resourceOfType(moduleTemplate('monitoring'), 'Microsoft.Insights/components').properties.DisableLocalAuth).toBe(true);
    const roles = moduleTemplate('roles');
    const publisher = resourcesOf(roles).find((r) => r.type === 'Microsoft.Authorization/roleAssignments' && String(r.properties.roleDefinitionId).includes('monitoringMetricsPublisher'));
    expect(publisher, 'a Monitoring Metrics Publisher assignment').toBeDefined();
    expect(publisher!.properties.principalId).toBe("[parameters('appPrincipalId')]");
    expect(roles.variables.roles.monitoringMetricsPublisher).toBe('3913510d-42f4-4e42-8a64-420c390055eb');
  });

  it('alerts on latency p95, dead letters, a mailbox that stopped and breaker holds, from the metrics and records the app exports', () => {
    const alerts = moduleTemplate('alerts');
    const rules = alerts.variables.telemetryAlerts as Json[];
    const byName = Object.fromEntries(rules.map((r) => [r.name as string, r]));
    expect(Object.keys(byName).sort()).toEqual(['sync-breaker-holds', 'sync-dead-letters', 'sync-latency-p95', 'sync-mailbox-attention']);
    // The p95 is a percentile of each change's latencyMs (a histogram in Application Insights has no percentiles).
    expect(alerts.variables.latencyQuery).toMatch(/message == "change applied"/);
    expect(alerts.variables.latencyQuery).toMatch(/percentile\(latencyMs, 95\)/);
    expect(byName['sync-latency-p95']!.threshold).toBe("[parameters('latencyP95ThresholdMs')]");
    expect(byName['sync-dead-letters']!.query).toContain(`name == "${metricNames.deadLetters}"`);
    expect(byName['sync-mailbox-attention']!.query).toContain(`name == "${metricNames.mailboxAttention}"`);
    // The gauge's 1s repeat each minute only while a mailbox needs attention (the app reads no whole registry for it):
    // a last 1 older than that is a state left without a sample, not alerted on.
    expect(byName['sync-mailbox-attention']!.query).toMatch(/where value > 0 and timestamp > ago\(15m\)/);
    expect(byName['sync-breaker-holds']!.query).toContain(`name == "${metricNames.breakerHolds}"`);
    for (const rule of rules) {
      // Every split dimension is a column the query projects (else the alert cannot name what it is about).
      for (const d of rule.dimensions as string[]) expect(String(rule.query).includes(d) || String(alerts.variables.latencyQuery).includes(d), `${rule.name}: ${d}`).toBe(true);
      expect(String(rule.query).includes(rule.measure) || String(alerts.variables.latencyQuery).includes(rule.measure)).toBe(true);
    }
    const resource = resourcesOf(alerts).find((r) => r.type === 'Microsoft.Insights/scheduledQueryRules' && r.copy);
    expect(resource?.copy.count).toBe("[length(variables('telemetryAlerts'))]");
    expect(resource?.properties.scopes).toEqual(["[parameters('applicationInsightsId')]"]);
    expect(main.parameters.latencyP95ThresholdMs.defaultValue).toBe(120000);
  });

  it('has a workbook on the component with the status page views, over the metric names the app exports', () => {
    const workbookModule = moduleTemplate('workbook');
    const workbook = resourceOfType(workbookModule, 'Microsoft.Insights/workbooks');
    expect(workbook.properties.sourceId).toBe("[parameters('applicationInsightsId')]");
    expect(workbook.kind).toBe('shared');
    const queries = Object.entries(workbookModule.variables as Record<string, unknown>)
      .filter(([name]) => name.endsWith('Query'))
      .map(([, q]) => String(q))
      .join('\n');
    for (const name of [metricNames.mailboxAttention, metricNames.deadLetters, metricNames.breakerHolds]) expect(queries).toContain(`"${name}"`);
    expect(queries).toContain('"change applied"');
    // The same sections as the status page, in its order.
    const titles = JSON.stringify(workbookModule.variables.content);
    for (const view of ['mailboxes', 'subscriptions', 'backlog', 'dead-letters', 'breaker', 'decisions']) expect(titles).toMatch(new RegExp(`['"]${view}['"]`));
  });
});
