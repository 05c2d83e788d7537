// The composition root: settings in, adapters and stores out, built lazily once per process. The Functions
// entry point and the local host both reach the handlers through it, so both run the same code.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { createTokenProvider, type TokenProvider } from './auth/tokens.js';
import { DataverseBudget, type ApplicationUserLane } from './budget/dataverseBudget.js';
import { MailboxBudget } from './budget/mailboxBudget.js';
import { BudgetStore } from './storage/budgetStore.js';
import { loadSettings, type Settings } from './config.js';
import { DataverseApi } from './dataverse/client.js';
import { GraphApi } from './graph/client.js';
import { createLogger, type Logger } from './log.js';
import { createChangeSender, createServiceBusClient, type ChangeSender } from './servicebus/sender.js';
import { BreakerStore } from './storage/breakerStore.js';
import { ConfigStore } from './settings/index.js';
import { createWorkSender, type WorkSender } from './servicebus/work.js';
import { initialSchedule } from './sync/schedule.js';
import { CursorStore } from './storage/cursorStore.js';
import { DecisionStore } from './storage/decisionStore.js';
import { MailboxStore } from './storage/mailboxStore.js';
import { PairStore } from './storage/pairStore.js';
import { SubscriptionStore } from './storage/subscriptionStore.js';
import { EmailStore } from './storage/emailStore.js';
import { createTables, type Tables } from './storage/tables.js';
import type { EntityKind } from './mapping/index.js';
import { BreakerGate, thresholdsFromConfig } from './sync/breakerGate.js';
import { record, startTelemetry, stopTelemetry, type TelemetryOptions } from './telemetry/index.js';
import type { ServiceBusClient } from '@azure/service-bus';

export interface CallCounts {
  graphRead: number;
  graphWrite: number;
  dataverseRead: number;
  dataverseWrite: number;
}

export interface Runtime {
  settings: Readonly<Settings>;
  log: Logger;
  tokens: TokenProvider;
  graph: GraphApi;
  dataverse: DataverseApi;
  tables: Tables;
  pairs: PairStore;
  mailboxes: MailboxStore;
  subscriptions: SubscriptionStore;
  cursors: CursorStore;
  /** Message keys, send claims, send pace and counts of tracked and sent email (shared/storage/emailStore.ts). */
  email: EmailStore;
  /** The mass-delete breaker between the plan and the adapters (shared/sync/breakerGate.ts). */
  breaker: BreakerGate;
  /** The sync configuration (shared/settings/), read through a 60-second cache. */
  config: ConfigStore;
  /** The decision record per item (explain). */
  decisions: DecisionStore;
  serviceBus: ServiceBusClient;
  sender: ChangeSender;
  /** Sends the periodic work (sweeps and per-mailbox work, shared/sync/work.ts) to the work queue. */
  work: WorkSender;
  /** API calls made by this process, by system and kind (benchmarks and status). */
  calls: CallCounts;
  /** systemuserid of the sync's application user (setting, else WhoAmI once). */
  applicationUserId(): Promise<string>;
  /** systemuserids of every application user (SYNC_CLIENT_ID's first, then DATAVERSE_APPLICATION_USERS'): their writes are the sync's own. */
  applicationUserIds(): Promise<string[]>;
  /** This instance's id in the Budget table (leases and heartbeats). */
  instanceId: string;
  /** The per-mailbox Graph budget (undefined when SYNC_GRAPH_BUDGET is off). */
  graphBudget: MailboxBudget | undefined;
  /** The Dataverse budget per application user (undefined when SYNC_DATAVERSE_BUDGET is off). */
  dataverseBudget: DataverseBudget | undefined;
  /** Resolves once the tables exist (created idempotently on first use). */
  ready(): Promise<void>;
  now(): Date;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  now?: () => Date;
  log?: Logger;
  telemetry?: TelemetryOptions;
  /** How long a read of the sync configuration is reused (default 60 s). */
  configCacheMs?: number;
}

/** Builds a runtime from an environment. */
export function createRuntime(env: Record<string, string | undefined> = process.env, options: RuntimeOptions = {}): Runtime {
  const settings = loadSettings(env);
  const log = options.log ?? createLogger();
  // Once per process (functions/index.ts may have started it already); off without a connection string.
  const telemetry = startTelemetry(settings, options.telemetry);
  if (!telemetry.enabled && settings.APPLICATIONINSIGHTS_CONNECTION_STRING) log.warn('telemetry is off', { reason: telemetry.reason });
  const tokens = createTokenProvider(settings);
  const calls: CallCounts = { graphRead: 0, graphWrite: 0, dataverseRead: 0, dataverseWrite: 0 };
  const tables = createTables(settings);
  // One id per runtime: each instance (and each local host instance in one process) holds its own leases.
  const instanceId = randomUUID();
  const budgetStore = new BudgetStore(tables.client('budget'));
  const budgetError = (error: unknown) => log.warn('budget table call failed; pacing within this instance', { cause: (error as { code?: string }).code ?? (error as Error)?.name });
  const graphBudget = settings.SYNC_GRAPH_BUDGET === 'off' ? undefined : new MailboxBudget({ mode: settings.SYNC_GRAPH_BUDGET, instanceId, port: budgetStore, onError: budgetError });
  const graph = new GraphApi({ baseUrl: settings.GRAPH_BASE_URL, tokens, budget: graphBudget, onCall: (kind) => void (kind === 'read' ? calls.graphRead++ : calls.graphWrite++) });
  // SYNC_CLIENT_ID first, then every further app registration with its own token provider; secrets are read from the
  // app settings DATAVERSE_APPLICATION_USERS names (checked by loadSettings) and kept nowhere else.
  const lanes: ApplicationUserLane[] = [
    { clientId: settings.SYNC_CLIENT_ID, tokens },
    ...settings.DATAVERSE_APPLICATION_USERS.map((u) => ({
      clientId: u.clientId,
      tokens: createTokenProvider({
        ...settings,
        SYNC_CLIENT_ID: u.clientId,
        SYNC_CLIENT_SECRET: u.secretSetting ? env[u.secretSetting] : undefined,
        SYNC_CLIENT_CERTIFICATE: u.certificateSetting ? env[u.certificateSetting] : undefined,
      }),
    })),
  ];
  const dataverseBudget = settings.SYNC_DATAVERSE_BUDGET === 'off'
    ? undefined
    : new DataverseBudget({ mode: settings.SYNC_DATAVERSE_BUDGET, lanes, requestsPer5Minutes: settings.SYNC_DATAVERSE_REQUESTS_PER_5_MINUTES, concurrent: settings.SYNC_DATAVERSE_CONCURRENT_REQUESTS, instanceId, port: budgetStore, onError: budgetError });
  const dataverse = new DataverseApi({ url: settings.DATAVERSE_URL, tokens, budget: dataverseBudget, batchMax: settings.SYNC_DATAVERSE_BATCH_MAX, onCall: (kind) => void (kind === 'read' ? calls.dataverseRead++ : calls.dataverseWrite++) });
  let tablesReady: Promise<void> | undefined;
  const ready = () => {
    tablesReady ??= tables.ensureTables();
    tablesReady.catch(() => (tablesReady = undefined));
    return tablesReady;
  };
  const serviceBus = createServiceBusClient(settings);
  const sender = createChangeSender(serviceBus);
  const work = createWorkSender(serviceBus);
  let appUser: Promise<string> | undefined;
  let appUsers: Promise<string[]> | undefined;
  const pairs = new PairStore(tables.client('pairs'));
  const config = new ConfigStore(tables.client('config'), options.configCacheMs ?? 60_000);
  const now = options.now ?? (() => new Date());
  const runtime: Runtime = {
    settings,
    log,
    tokens,
    graph,
    dataverse,
    tables,
    pairs,
    // A state change is a sample of the attention gauge where it happens (0 once a mailbox syncs again, 1 when it
    // stops); the paged pass of shared/sync/work.ts repeats the 1s each minute, so no one reads the whole registry.
    mailboxes: new MailboxStore(tables.client('mailboxes'), undefined, initialSchedule(settings), now, (m) => record.mailboxAttention(m.id, m.state)),
    subscriptions: new SubscriptionStore(tables.client('subscriptions')),
    cursors: new CursorStore(tables.client('cursors')),
    email: new EmailStore(tables.client('cursors')),
    breaker: new BreakerGate(new BreakerStore(tables.client('breaker'), tables.client('quarantine')), pairs, async (mailboxId, kind) => thresholdsFromConfig((await config.effective(mailboxId)).breaker[kind as EntityKind]), log),
    config,
    decisions: new DecisionStore(tables.client('decisions'), settings.SYNC_DECISIONS_KEEP),
    serviceBus,
    sender,
    work,
    calls,
    applicationUserId() {
      if (settings.DATAVERSE_APPLICATION_USER_ID) return Promise.resolve(settings.DATAVERSE_APPLICATION_USER_ID);
      // With SYNC_CLIENT_ID's own token: the budget could hand WhoAmI to another application user.
      appUser ??= new DataverseApi({ url: settings.DATAVERSE_URL, tokens }).whoAmI().then((w) => w.UserId.toLowerCase());
      appUser.catch(() => (appUser = undefined));
      return appUser;
    },
    applicationUserIds() {
      appUsers ??= Promise.all([
        runtime.applicationUserId(),
        ...settings.DATAVERSE_APPLICATION_USERS.map((u, i) =>
          u.applicationUserId ? Promise.resolve(u.applicationUserId) : new DataverseApi({ url: settings.DATAVERSE_URL, tokens: lanes[i + 1]!.tokens }).whoAmI().then((w) => w.UserId.toLowerCase()),
        ),
      ]);
      appUsers.catch(() => (appUsers = undefined));
      return appUsers;
    },
    instanceId,
    graphBudget,
    dataverseBudget,
    ready,
    now,
    async close() {
      await graphBudget?.close();
      await dataverseBudget?.close();
      await sender.close();
      await work.close();
      await serviceBus.close();
      if (telemetry.enabled) await stopTelemetry();
    },
  };
  return runtime;
}

let current: Runtime | undefined;
const scoped = new AsyncLocalStorage<Runtime>();

/** The process-wide runtime (created from process.env on first use), or the one of the invocation under way (withRuntime). */
export function getRuntime(): Runtime {
  const inScope = scoped.getStore();
  if (inScope) return inScope;
  current ??= createRuntime();
  return current;
}

/**
 * Runs `fn` with `runtime` as getRuntime(): the local host runs several instances in one process, each with its own
 * runtime (its own leases and budget shares), as separate Functions instances have separate processes.
 */
export async function withRuntime<T>(runtime: Runtime, fn: () => T | Promise<T>): Promise<T> {
  return scoped.run(runtime, async () => fn());
}

/** Installs a runtime (the local host and tests build theirs from their own environment). */
export function setRuntime(runtime: Runtime | undefined): void {
  current = runtime;
}
