// Loads the BUILT entry point (dist/functions/index.js, what the Functions host loads) with @azure/functions
// registering for real: the worker's core module @azure/functions-core, which only exists inside the Functions
// host, is stood in by a stub that records every registerFunction call (the one stand-in allowed here, since the
// host cannot run on this machine). The recorded bindings are then checked against what infra/ deploys and what
// the postdeploy hook and the setup commands rely on.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CronExpressionParser } from 'cron-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionTable } from '../../functions/table.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const entryPath = join(root, 'dist/functions/index.js');
const templatePath = join(root, '.local/infra/main.json');

// ARM JSON is loosely typed by nature; the assertions give it shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/** A binding as @azure/functions hands it to the worker (toCoreFunctionMetadata). */
interface Binding {
  type: string;
  direction: 'in' | 'out';
  name: string;
  authLevel?: string;
  methods?: string[];
  route?: string;
  queueName?: string;
  connection?: string;
  isSessionsEnabled?: boolean;
  schedule?: string;
}
interface Registration {
  name: string;
  bindings: Record<string, Binding>;
  handler: unknown;
}

function newestMtime(dir: string, test: (name: string) => boolean): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((e) => {
      const path = join(dir, e.name);
      if (e.isDirectory()) return newestMtime(path, test);
      return test(e.name) ? statSync(path).mtimeMs : 0;
    }),
  );
}

/** .ci/run builds before testing; a local run rebuilds when dist is missing or older than the sources. */
function ensureBuilt(): void {
  const sources = Math.max(newestMtime(join(root, 'functions'), (n) => n.endsWith('.ts')), newestMtime(join(root, 'shared'), (n) => n.endsWith('.ts')));
  if (existsSync(entryPath) && statSync(entryPath).mtimeMs >= sources) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  } catch (error) {
    // tsc still emits when some file has a type error; what matters here is a fresh entry point.
    if (!existsSync(entryPath) || statSync(entryPath).mtimeMs < sources) {
      throw new Error(`npm run build failed and ${entryPath} is missing or stale:\n${String((error as { stdout?: unknown }).stdout ?? error)}`, { cause: error });
    }
  }
}

function ensureCompiledTemplate(): void {
  const newest = newestMtime(join(root, 'infra'), (n) => n.endsWith('.bicep') || n === 'bicepconfig.json');
  if (existsSync(templatePath) && statSync(templatePath).mtimeMs >= newest) return;
  execFileSync('bash', [join(root, 'infra/check.sh')], { cwd: root, stdio: 'pipe' });
}

const registrations: Registration[] = [];
let programmingModel: { name?: string; version?: string } | undefined;
type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;
const moduleWithLoad = Module as unknown as { _load: Loader };
const originalLoad = moduleWithLoad._load;

/** What the Functions worker exposes to @azure/functions as `@azure/functions-core` (the calls the library makes). */
const coreApi = {
  version: '3.10.1',
  hostVersion: '4.1037.0',
  setProgrammingModel(model: { name?: string; version?: string }) {
    programmingModel = model;
  },
  getProgrammingModel: () => programmingModel,
  registerFunction(metadata: { name: string; bindings: Record<string, Omit<Binding, 'name'>> }, handler: unknown) {
    const bindings = Object.fromEntries(Object.entries(metadata.bindings).map(([name, b]) => [name, { ...b, name }])) as Record<string, Binding>;
    registrations.push({ name: metadata.name, bindings, handler });
    return { dispose: () => undefined };
  },
  registerHook: () => ({ dispose: () => undefined }),
  log: () => undefined,
};

let template: Json;
const modules: Record<string, Json> = {};

beforeAll(async () => {
  ensureBuilt();
  ensureCompiledTemplate();
  template = JSON.parse(readFileSync(templatePath, 'utf8')) as Json;
  for (const [name, resource] of Object.entries(template.resources as Json)) {
    if (resource.type === 'Microsoft.Resources/deployments') modules[name] = resource.properties.template;
  }
  moduleWithLoad._load = function load(request, parent, isMain) {
    return request === '@azure/functions-core' ? coreApi : originalLoad.call(this, request, parent, isMain);
  };
  await import(pathToFileURL(entryPath).href);
}, 120_000);

afterAll(() => {
  moduleWithLoad._load = originalLoad;
});

const triggerOf = (r: Registration) => Object.values(r.bindings).find((b) => b.direction === 'in' && b.type.endsWith('Trigger'))!;
const byName = (name: string) => {
  const found = registrations.find((r) => r.name === name);
  if (!found) throw new Error(`${name} was not registered (registered: ${registrations.map((r) => r.name).join(', ')})`);
  return found;
};

describe('the built entry point registers with the Functions worker', () => {
  it('sets the v4 programming model and registers every row of functions/table.ts, once', () => {
    expect(programmingModel?.name).toBe('@azure/functions');
    expect(programmingModel?.version).toMatch(/^4\./);
    expect(registrations.map((r) => r.name).sort()).toEqual(functionTable.map((f) => f.name).sort());
    for (const r of registrations) expect(typeof r.handler).toBe('function');
  });

  it('gives each registration the trigger type and options of its row', () => {
    for (const fn of functionTable) {
      const trigger = triggerOf(byName(fn.name));
      switch (fn.kind) {
        case 'http':
          expect(trigger).toMatchObject({ type: 'httpTrigger', route: fn.route, methods: fn.methods, authLevel: fn.authLevel });
          expect(byName(fn.name).bindings.$return).toMatchObject({ type: 'http', direction: 'out' });
          break;
        case 'serviceBusQueue':
          expect(trigger).toMatchObject({ type: 'serviceBusTrigger', queueName: fn.queueName, connection: fn.connection, isSessionsEnabled: fn.isSessionsEnabled });
          break;
        case 'timer':
          expect(trigger).toMatchObject({ type: 'timerTrigger', schedule: fn.schedule });
          break;
      }
    }
  });
});

describe('the registrations match the deployment', () => {
  const functionApp = () => modules.functionApp!;
  const appSettings = (): Record<string, string> => {
    const resources = Object.values(functionApp().resources as Json) as Json[];
    return resources.find((r) => r.type === 'Microsoft.Web/sites/config')!.properties as Record<string, string>;
  };
  const templateQueues = (): Json[] => modules.serviceBus!.variables.queues as Json[];

  it('every Service Bus trigger reads a queue the template creates, with sessions as the queue has them', () => {
    const sb = registrations.map(triggerOf).filter((t) => t.type === 'serviceBusTrigger');
    expect(sb.length).toBeGreaterThan(0);
    for (const trigger of sb) {
      const queue = templateQueues().find((q) => q.name === trigger.queueName);
      expect(queue, `queue ${trigger.queueName} in infra/modules/servicebus.bicep`).toBeDefined();
      // A session trigger on a queue without sessions (or the reverse) fails at the first receive.
      expect(queue!.properties.requiresSession).toBe(trigger.isSessionsEnabled);
    }
  });

  it('every Service Bus connection is identity-based in the app settings (<connection>__fullyQualifiedNamespace)', () => {
    const settings = appSettings();
    for (const trigger of registrations.map(triggerOf).filter((t) => t.type === 'serviceBusTrigger')) {
      expect(settings[`${trigger.connection}__fullyQualifiedNamespace`], `${trigger.connection}__fullyQualifiedNamespace`).toMatch(/\S/);
      expect(settings[`${trigger.connection}__credential`]).toBe('managedidentity');
      expect(settings).not.toHaveProperty(trigger.connection!);
    }
  });

  it('the HTTP functions are the ones infra/hooks/postdeploy.sh keys and checks, on the routes the outputs print', () => {
    const hook = readFileSync(join(root, 'infra/hooks/postdeploy.sh'), 'utf8');
    const keyed = [...hook.matchAll(/^\s+"(\w+) (\w+) ([\w-]+)"$/gm)].map((m) => m[1]!);
    expect(keyed.sort()).toEqual(['dataverseWebhook', 'graphNotifications']);
    expect(hook).toMatch(/function_key status default/);
    const http = registrations.filter((r) => triggerOf(r).type === 'httpTrigger');
    expect(http.map((r) => r.name).sort()).toEqual([...keyed, 'status', 'statusPage'].sort());
    // The page is behind the status endpoint's key: the hook gives it that key.
    expect(triggerOf(byName('statusPage')).authLevel).toBe('function');
    expect(hook).toMatch(/--function-name statusPage --key-name status --key-value/);
    for (const name of keyed) expect(triggerOf(byName(name)).authLevel).toBe('function');
    const routes = Object.fromEntries(http.map((r) => [r.name, triggerOf(r).route!]));
    expect(hook).toContain(`$WEBHOOK_BASE_URL/${routes.graphNotifications}`);
    expect(hook).toContain(`$WEBHOOK_BASE_URL/${routes.dataverseWebhook}`);
    expect(hook).toContain(`$WEBHOOK_BASE_URL/${routes.status}`);
    expect(hook).toContain(`$WEBHOOK_BASE_URL/${routes.statusPage}`);
    const outputs = template.outputs as Json;
    expect(outputs.GRAPH_NOTIFICATION_URL.value).toContain(`/api/${routes.graphNotifications}'`);
    expect(outputs.DATAVERSE_WEBHOOK_URL.value).toContain(`/api/${routes.dataverseWebhook}'`);
    expect(outputs.STATUS_URL.value).toContain(`/api/${routes.status}'`);
    expect(outputs.STATUS_PAGE_URL.value).toContain(`/api/${routes.statusPage}'`);
    expect(triggerOf(byName('graphNotifications')).methods).toEqual(['POST']);
    expect(triggerOf(byName('dataverseWebhook')).methods).toEqual(['POST']);
    expect(triggerOf(byName('status')).methods).toEqual(['GET']);
    expect(triggerOf(byName('statusPage')).methods).toEqual(['GET', 'POST']);
  });

  it('the timers the sync depends on exist, with six-field NCRONTAB schedules', () => {
    const timers = registrations.filter((r) => triggerOf(r).type === 'timerTrigger');
    expect(timers.map((r) => r.name)).toEqual(expect.arrayContaining(['renewSubscriptions', 'pollTodo']));
    for (const r of timers) {
      const schedule = triggerOf(r).schedule!;
      // Azure Functions timers take {second} {minute} {hour} {day} {month} {day-of-week}.
      expect(schedule.split(/\s+/), `${r.name}: ${schedule}`).toHaveLength(6);
      expect(() => CronExpressionParser.parse(schedule, { tz: 'UTC' })).not.toThrow();
    }
    // Graph subscriptions on events and contacts last at most 10080 minutes; renewal must run well within that.
    const renew = CronExpressionParser.parse(triggerOf(byName('renewSubscriptions')).schedule!, { tz: 'UTC' });
    const first = renew.next().getTime();
    expect(renew.next().getTime() - first).toBeLessThanOrEqual(24 * 3600_000);
  });
});
