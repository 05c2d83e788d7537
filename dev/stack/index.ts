// The whole sync running locally: the identity provider, the Graph, Dataverse and Service Bus simulators, Azurite,
// and the local Functions host running functions/table.ts against them. `npm start`, the end-to-end tests and the
// benchmarks all start it the same way.
import { randomBytes } from 'node:crypto';
import { functionTable } from '../../functions/table.js';
import { DataverseApi } from '../../shared/dataverse/client.js';
import { createLogger, type LogSink } from '../../shared/log.js';
import { dataverseZoneCodeOf } from '../../shared/mapping/index.js';
import { enableMailbox } from '../../shared/onboarding/mailbox.js';
import { registerWebhooks } from '../../shared/onboarding/webhooks.js';
import { createRuntime, setRuntime, withRuntime, type Runtime } from '../../shared/runtime.js';
import type { TelemetryOptions } from '../../shared/telemetry/index.js';
import type { Mailbox } from '../../shared/storage/mailboxStore.js';
import { changesQueue, queues, workQueue } from '../../shared/servicebus/queues.js';
import { tableSuffixes, type TableKey } from '../../shared/storage/tableNames.js';
import { startAzuriteTables, type StartedAzurite } from '../azurite/index.js';
import { freePort, startChildHost, type ChildHost } from '../host/childHost.js';
import { startLocalHost, type LocalHost } from '../host/index.js';
import { hostServiceBusSettings } from '../host/settings.js';
import { startDataverseSimulator, type DataverseSimulator, type EmailOptions, type RecurrenceOptions } from '../sim/dataverse/index.js';
import type { RecurrenceBehaviour } from '../sim/graph/options.js';
import { startGraphSimulator, type GraphSimulator, type MailBehaviour, type NotificationPolicy, type PartialLimits, type SimUserView } from '../sim/graph/index.js';
import { startIdentityProvider, type IdentityProvider } from '../sim/identity/index.js';
import { startServiceBusSimulator, type ServiceBusSimulator } from '../sim/servicebus/index.js';

export interface StackUser {
  key: string;
  userPrincipalName: string;
  displayName: string;
  timeZone: string;
}

export const defaultUsers: StackUser[] = [
  { key: 'alice', userPrincipalName: 'alice@contoso.example', displayName: 'Alice Adams', timeZone: 'W. Europe Standard Time' },
  { key: 'bob', userPrincipalName: 'bob@contoso.example', displayName: 'Bob Brown', timeZone: 'Eastern Standard Time' },
];

export interface StackOptions {
  seed?: number;
  users?: StackUser[];
  /** Port of the local Functions host (npm start: 7071); 0 = ephemeral. */
  hostPort?: number;
  /** Run the timers on their schedules (npm start); tests fire them. */
  runTimers?: boolean;
  /** Azurite folder; in memory when absent. */
  storageFolder?: string;
  /** Enable every user's mailbox and register the Dataverse webhooks (default true). */
  onboard?: boolean;
  graphLimits?: PartialLimits;
  /** Graph notification retry policy (short in tests). */
  graphNotifications?: Partial<NotificationPolicy>;
  logSink?: LogSink;
  env?: Record<string, string>;
  sessionIdleTimeoutMs?: number;
  /** Graph simulator recurrence behaviour (dev/sim/graph/README.md "recurrence": occurrenceICalUId, deltaOccurrences). */
  graphRecurrence?: Partial<RecurrenceBehaviour>;
  /** Dataverse simulator recurrence options (dev/sim/dataverse/README.md "Recurring appointments": instanceSteps, windows). */
  dataverseRecurrence?: RecurrenceOptions;
  /** actdeliverymethod of the users' Dataverse mailbox rows (default 2, None; 1 = server-side synchronization). */
  actDeliveryMethod?: 0 | 1 | 2;
  /** Whether Dataverse webhooks carry the sync's `tag` (dev/sim/dataverse/README.md "Webhooks"; default true). */
  webhookCarriesTag?: boolean;
  /** The product's clock (tests that let simulated days pass move it with the simulators' clocks). */
  now?: () => Date;
  /**
   * Every timer firing does every mailbox's work (schedule settings 0), so tests that fire timers see each firing
   * poll, reconcile and check every mailbox. Default: on when the timers do not run on their schedules.
   */
  everyFireDoesAll?: boolean;
  /** Telemetry export options (with APPLICATIONINSIGHTS_CONNECTION_STRING in `env`); tests make the interval short. */
  telemetry?: TelemetryOptions;
  /** Exchange's sending limits and sent-mail behaviours of the Graph simulator (dev/sim/graph/options.ts MailBehaviour). */
  graphMail?: Partial<MailBehaviour>;
  /** The Dataverse simulator's email platform options (dev/sim/dataverse/README.md "Email"). */
  dataverseEmail?: EmailOptions;
  /** What enabling each user's mailbox syncs (default: appointment, task, contact). */
  entities?: Mailbox['entities'];
  /** How long the runtime reuses a read of the sync configuration (default 0: fresh on every change). */
  configCacheMs?: number;
  /**
   * Worker instances (default 1). Each further one is a local host with its own runtime (its own leases and budget
   * shares) reading the same queues, tables and simulators, as another Functions instance would.
   */
  instances?: number;
  /**
   * Handlers at once per instance on the queue without sessions, instead of host.json's maxConcurrentCalls: a test
   * whose burst is smaller than one instance's concurrency sets it lower, so one instance cannot take the whole burst.
   */
  maxConcurrentCalls?: number;
  /** Application users besides SYNC_CLIENT_ID's, each its own app registration, listed in DATAVERSE_APPLICATION_USERS (default 0). */
  extraApplicationUsers?: number;
  /**
   * Run the Service Bus triggers in the stack's host (default true). Off, the host serves HTTP and timers only and
   * another process works the queues (the burst benchmark measures the worker alone that way).
   */
  runQueueTriggers?: boolean;
  /**
   * Run the local host in a child process (dev/host/childHost.ts) that `stack.child` kills and restarts, as a
   * Functions instance dies and another takes over. The test process keeps a runtime of its own for onboarding and
   * for reading the pairs; it never handles a message.
   */
  hostInChild?: boolean;
  /**
   * The queues' peek-lock duration in the Service Bus simulator, ISO 8601 (default: each queue's own,
   * shared/servicebus/queues.ts, PT1M as infra/ deploys it). Azure allows 5 seconds to 5 minutes
   * (https://learn.microsoft.com/azure/service-bus-messaging/message-transfers-locks-settlement#peeklock). What a
   * killed host held comes back when its lock expires, so a test that kills hosts often waits a minute per kill;
   * a shorter lock keeps the same semantics (the host renews its locks while a handler runs) in less time.
   */
  queueLockDuration?: string;
}

export interface StackUserInfo extends StackUser {
  graph: SimUserView;
  systemUserId: string;
}

export interface Stack {
  identity: IdentityProvider;
  graph: GraphSimulator;
  dataverse: DataverseSimulator;
  serviceBus: ServiceBusSimulator;
  azurite: StartedAzurite;
  host: LocalHost;
  /** The host's child process, with hostInChild. */
  child?: ChildHost;
  runtime: Runtime;
  /** The further worker instances (StackOptions.instances), each with its own runtime. */
  instances: { host: LocalHost; runtime: Runtime }[];
  /** systemuserids of every application user, SYNC_CLIENT_ID's first. */
  applicationUserIds: string[];
  env: Record<string, string>;
  functionKey: string;
  users: Record<string, StackUserInfo>;
  applicationUserId: string;
  /** Resolves when the queue is empty and nothing is locked or scheduled (the sync is idle). */
  settled(options?: { timeoutMs?: number }): Promise<void>;
  close(): Promise<void>;
}

const clientId = '5b0c7a9e-2f4d-4c1b-9e8a-3d6f1a2b4c5e';

/**
 * Deletes every row of the sync's tables. The simulators keep their state in memory only, so after a restart on a
 * kept storage folder the pairs, delta links and subscriptions would name items and tokens the new simulators never
 * issued (seeded items taken for echoes, stale delta links failing every minute); emptying the tables makes the
 * stored state and the simulators agree again.
 */
export async function emptySyncTables(runtime: Runtime): Promise<number> {
  let deleted = 0;
  for (const key of Object.keys(tableSuffixes) as TableKey[]) {
    const client = runtime.tables.client(key);
    for await (const row of client.listEntities<Record<string, unknown>>({ queryOptions: { select: ['PartitionKey', 'RowKey'] } })) {
      await client.deleteEntity(String(row.partitionKey), String(row.rowKey));
      deleted += 1;
    }
  }
  return deleted;
}

const graphRoles = ['Calendars.ReadWrite', 'Contacts.ReadWrite', 'Tasks.ReadWrite.All', 'MailboxSettings.Read', 'User.Read.All', 'Mail.ReadWrite', 'Mail.Send'];

/** Starts everything. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  // Tests run quietly unless SYNC_TEST_LOGS=1; a failing assertion says what went wrong.
  const quiet = !options.logSink && process.env.VITEST !== undefined && process.env.SYNC_TEST_LOGS !== '1';
  if (quiet) options = { ...options, logSink: () => undefined };
  const seed = options.seed ?? 1;
  const users = options.users ?? defaultUsers;
  const clientSecret = randomBytes(24).toString('base64url');
  const webhookKey = randomBytes(32).toString('base64url');
  const functionKey = randomBytes(24).toString('base64url');
  // Further app registrations for the Dataverse load only (Graph is called with SYNC_CLIENT_ID's app).
  const extraApps = Array.from({ length: options.extraApplicationUsers ?? 0 }, (_, i) => ({ clientId: `5b0c7a9e-2f4d-4c1b-9e8a-3d6f1a2b4${String(i + 1).padStart(3, '0')}`, clientSecret: randomBytes(24).toString('base64url'), roles: [] as string[] }));
  const identity = await startIdentityProvider({ apps: [{ clientId, clientSecret, roles: graphRoles }, ...extraApps] });
  const graph = await startGraphSimulator({
    seed,
    identity,
    ...(options.graphLimits ? { limits: options.graphLimits } : {}),
    ...(options.graphNotifications ? { notifications: options.graphNotifications } : {}),
    ...(options.graphMail ? { mail: options.graphMail } : {}),
    ...(options.graphRecurrence ? { recurrence: options.graphRecurrence } : {}),
    users: users.map((u) => ({ userPrincipalName: u.userPrincipalName, mail: u.userPrincipalName, displayName: u.displayName, timeZone: u.timeZone })),
  });
  // The stack's users are the sync's: their Dataverse mailbox rows have appointments, contacts and tasks delivered by
  // None, as Test & Enable's no-double-engine check requires (shared/onboarding/mailboxTest.ts).
  const dataverse = await startDataverseSimulator({
    seed,
    identity,
    email: { ...options.dataverseEmail, mailboxDefaults: { actdeliverymethod: options.actDeliveryMethod ?? 2, ...options.dataverseEmail?.mailboxDefaults } },
    ...(options.webhookCarriesTag !== undefined ? { webhookCarriesTag: options.webhookCarriesTag } : {}),
    ...(options.dataverseRecurrence ? { recurrence: options.dataverseRecurrence } : {}),
  });
  const serviceBus = await startServiceBusSimulator({ queues: queues.map((q) => (options.queueLockDuration ? { ...q, lockDuration: options.queueLockDuration } : q)), seed });
  const azurite = await startAzuriteTables(options.storageFolder ? { folder: options.storageFolder } : {});
  const graphUsers = await graph.admin.users();
  const appUser = dataverse.admin.seedApplicationUser({ clientId, fullname: 'dataverse-exchange-sync' });
  const extraAppUsers = extraApps.map((app, i) => dataverse.admin.seedApplicationUser({ clientId: app.clientId, fullname: `dataverse-exchange-sync ${i + 2}` }));
  const info: Record<string, StackUserInfo> = {};
  for (const u of users) {
    const g = graphUsers.find((x) => x.userPrincipalName === u.userPrincipalName)!;
    const [first, ...rest] = u.displayName.split(' ');
    const su = dataverse.admin.seedUser({
      fullname: u.displayName,
      firstname: first ?? u.displayName,
      lastname: rest.join(' ') || u.displayName,
      internalemailaddress: u.userPrincipalName,
      domainname: u.userPrincipalName,
      azureactivedirectoryobjectid: g.id,
    });
    // The user's own Dynamics 365 time zone is the mailbox's, as Test & Enable expects (a test may change it).
    const zoneCode = dataverseZoneCodeOf(u.timeZone);
    if (zoneCode !== undefined) dataverse.admin.setUserTimeZone(su.systemuserid, zoneCode);
    info[u.key] = { ...u, graph: g, systemUserId: su.systemuserid };
  }
  const hostSettings = { ...hostServiceBusSettings(), ...(options.maxConcurrentCalls !== undefined ? { maxConcurrentCalls: options.maxConcurrentCalls } : {}) };
  const sessionIdleTimeoutMs = options.sessionIdleTimeoutMs ?? hostSettings.sessionIdleTimeoutMs;
  // The child's port is chosen first: its address goes into the settings it starts with.
  const childPort = options.hostInChild ? options.hostPort || (await freePort()) : 0;
  let host: LocalHost | undefined = options.hostInChild
    ? undefined
    : await startLocalHost({
        table: functionTable,
        port: options.hostPort ?? 0,
        functionKeys: [functionKey],
        ...(options.runQueueTriggers ?? true ? { serviceBusConnectionString: serviceBus.connectionString } : {}),
        runTimers: options.runTimers ?? false,
        maxConcurrentSessions: hostSettings.maxConcurrentSessions,
        maxConcurrentCalls: hostSettings.maxConcurrentCalls,
        sessionIdleTimeoutMs,
        log: options.logSink ? (line) => options.logSink!('debug', line, {}) : undefined,
      });
  const hostOrigin = host?.origin ?? `http://127.0.0.1:${childPort}`;
  const env: Record<string, string> = {
    SYNC_TENANT_ID: identity.tenantId,
    SYNC_CLIENT_ID: clientId,
    SYNC_CLIENT_SECRET: clientSecret,
    SYNC_AUTHORITY_HOST: identity.origin,
    GRAPH_BASE_URL: graph.baseUrl,
    DATAVERSE_URL: dataverse.url,
    DATAVERSE_WEBHOOK_KEY: webhookKey,
    GRAPH_NOTIFICATION_FUNCTION_KEY: functionKey,
    WEBHOOK_BASE_URL: `${hostOrigin}/api`,
    SYNC_TABLES_CONNECTION_STRING: azurite.connectionString,
    ServiceBusConnection: serviceBus.connectionString,
    ...(extraApps.length
      ? {
          DATAVERSE_APPLICATION_USERS: JSON.stringify(extraApps.map((app, i) => ({ clientId: app.clientId, secretSetting: `SYNC_DATAVERSE_APP_${i + 2}_SECRET` }))),
          ...Object.fromEntries(extraApps.map((app, i) => [`SYNC_DATAVERSE_APP_${i + 2}_SECRET`, app.clientSecret])),
        }
      : {}),
    // Tests fire the timers on demand and expect each firing to do every mailbox's work (adaptive polling, spread
    // reconciliation and the renewal check interval are tested on their own); timers on their schedules (npm start,
    // benchmarks) keep the deployed defaults.
    ...(options.everyFireDoesAll ?? !(options.runTimers ?? false)
      ? { SYNC_TODO_POLL_MIN_SECONDS: '0', SYNC_TODO_POLL_MAX_SECONDS: '0', SYNC_RECONCILE_PERIOD_MINUTES: '0', SYNC_RENEW_CHECK_MINUTES: '0' }
      : {}),
    // Tests see a backfill's changes at once (the pace is tested on its own; benchmarks set it).
    SYNC_BACKFILL_CHANGES_PER_SECOND: '0',
    ...options.env,
  };
  const runtime = createRuntime(env, {
    ...(options.logSink ? { log: createLogger(options.logSink, 'debug') } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.telemetry ? { telemetry: options.telemetry } : {}),
    // The stack's CLI and worker share one process and one runtime: read the sync configuration fresh, so a test's
    // `config set` is in force for the next change (the product's 60-second cache is tested on its own).
    configCacheMs: options.configCacheMs ?? 0,
  });
  setRuntime(runtime);
  await runtime.ready();
  let child: ChildHost | undefined;
  if (options.hostInChild) {
    child = await startChildHost({
      env,
      port: childPort,
      functionKeys: [functionKey],
      maxConcurrentSessions: hostSettings.maxConcurrentSessions,
      maxConcurrentCalls: hostSettings.maxConcurrentCalls,
      sessionIdleTimeoutMs,
      configCacheMs: options.configCacheMs ?? 0,
      // A quiet test does not have the child send it every log line to drop.
      ...(options.logSink && !quiet ? { logSink: options.logSink } : {}),
    });
    host = child;
  }
  const theHost = host!;
  if (options.onboard ?? true) {
    await registerWebhooks(new DataverseApi({ url: dataverse.url, tokens: runtime.tokens }), { url: `${theHost.origin}/api/dataverse/webhook?code=${functionKey}`, key: webhookKey });
    // In order for the tests' few users (what they see of the backfill and the subscriptions follows it); a
    // benchmark's thousands eight at a time (as `mailbox enable --from --concurrency 8` would), since one after
    // another their onboarding alone outlasted the measurement.
    const enable = (u: (typeof users)[number]) => enableMailbox(runtime, u.userPrincipalName, options.entities ? { entities: options.entities } : {});
    if (users.length <= 20) for (const u of users) await enable(u);
    else for (let i = 0; i < users.length; i += 8) await Promise.all(users.slice(i, i + 8).map(enable));
  }
  const instances: { host: LocalHost; runtime: Runtime }[] = [];
  for (let i = 1; i < (options.instances ?? 1); i += 1) {
    const rt = createRuntime(env, { ...(options.logSink ? { log: createLogger(options.logSink, 'debug') } : {}), ...(options.now ? { now: options.now } : {}), configCacheMs: options.configCacheMs ?? 0 });
    await rt.ready();
    const extra = await startLocalHost({
      table: functionTable,
      functionKeys: [functionKey],
      serviceBusConnectionString: serviceBus.connectionString,
      runTimers: false,
      maxConcurrentSessions: hostSettings.maxConcurrentSessions,
      maxConcurrentCalls: hostSettings.maxConcurrentCalls,
      sessionIdleTimeoutMs,
      log: options.logSink ? (line) => options.logSink!('debug', line, {}) : undefined,
      scope: (run) => withRuntime(rt, run),
    });
    instances.push({ host: extra, runtime: rt });
  }
  const settled = async ({ timeoutMs = 20_000 }: { timeoutMs?: number } = {}) => {
    const deadline = Date.now() + timeoutMs;
    // Quiet means: no webhook or notification still in flight and an empty queue, twice in a row (a delivery
    // that was in flight may have enqueued something in between).
    let quietRounds = 0;
    while (quietRounds < 2) {
      if (Date.now() > deadline) {
        // What still waits, by message id and properties (ids and codes only), so a failure says which change it was.
        const waiting = queues.flatMap((q) => serviceBus.messages(q.name).map((m) => ({ queue: q.name, state: m.state, messageId: m.messageId, deliveryCount: m.deliveryCount, properties: m.applicationProperties })));
        throw new Error(`the sync did not settle within ${timeoutMs} ms: ${JSON.stringify({ changes: serviceBus.counts(changesQueue.name), work: serviceBus.counts(workQueue.name), waiting: waiting.slice(0, 10) })}`);
      }
      // Both waits are bounded by the deadline too: Graph retries a batch the host refused (a 401 for a subscription
      // it no longer knows) for retryForMs, four hours by default, so an unbounded wait here outlived every timeout
      // and the caller never heard why (a 200-operation chaos run ended with no result).
      await within(timeoutMs, deadline, 'Dataverse webhooks still queued, delayed or in flight', dataverse.admin.flushWebhooks());
      await within(timeoutMs, deadline, "Graph notifications still queued, in flight or waiting for a retry (Graph retries a batch the host refused for the policy's retryForMs)", graph.admin.notificationsSettled());
      // Every queue of the table (the previous release's changes queue too, which the same worker drains).
      if (queues.every((q) => serviceBus.counts(q.name).active === 0 && serviceBus.counts(q.name).scheduled === 0)) {
        quietRounds += 1;
      } else {
        quietRounds = 0;
        await new Promise<void>((resolve) => {
          const done = () => {
            serviceBus.events.off('completed', done);
            serviceBus.events.off('scheduledActivated', done);
            clearTimeout(timer);
            resolve();
          };
          // Wake on the next settlement; the timer only bounds a wait for a scheduled retry.
          const timer = setTimeout(done, 250);
          serviceBus.events.on('completed', done);
          serviceBus.events.on('scheduledActivated', done);
        });
      }
    }
  };
  return {
    identity,
    graph,
    dataverse,
    serviceBus,
    azurite,
    host: theHost,
    ...(child ? { child } : {}),
    runtime,
    instances,
    applicationUserIds: [appUser.systemuserid, ...extraAppUsers.map((u) => u.systemuserid)],
    env,
    functionKey,
    users: info,
    applicationUserId: appUser.systemuserid,
    settled,
    async close() {
      for (const extra of instances) {
        await extra.host.close();
        await extra.runtime.close();
      }
      await theHost.close();
      await runtime.close();
      setRuntime(undefined);
      await Promise.allSettled([graph.close(), dataverse.close(), serviceBus.close(), azurite.close()]);
      await identity.close();
    },
  };
}

/** `wait`, or the settle's timeout error naming what it waited for once the deadline has passed. */
async function within(timeoutMs: number, deadline: number, what: string, wait: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the sync did not settle within ${timeoutMs} ms: ${what}`)), Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([wait, late]);
  } finally {
    clearTimeout(timer);
  }
}
