// A local Dataverse (Dynamics 365) for tests, benchmarks and the sandbox: the Web API at /api/data/v9.2/ over HTTPS on
// loopback with bearer tokens from the local identity provider, webhooks to registered service endpoints, and an admin
// API under /_sim/. Written from Microsoft's documentation only; it never imports product code. See README.md.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import { observeRequests, sendJson, startHttpsServer } from '../common/https.js';
import { startIdentityProvider, type IdentityProvider } from '../identity/index.js';
import { DataverseAdmin, handleAdminHttp, type DataverseLimits } from './admin.js';
import { combineHooks, Engine } from './engine.js';
import { EmailPlatform, type EmailOptions } from './email.js';
import { RequestFaultInjector, type FaultPlan } from './faults.js';
import { defaultServiceProtectionLimits, ServiceProtection } from './limits.js';
import { Prng, SequentialGuids } from './prng.js';
import { emailFilterTables, entities, entityByLogicalName, sdkMessageNames } from './schema.js';
import { Store, text, type LookupRef } from './store.js';
import { SeriesPlatform, type RecurrenceOptions } from './series.js';
import { RequestCounters, WebApi, type BatchPartThrottling } from './webapi.js';
import { PrivilegeBook } from './privileges.js';
import { UserSettingsPlatform } from './userSettings.js';
import { WebhookDispatcher, type WebhookRedelivery } from './webhooks.js';

export { DataverseAdmin, DataverseAdminClient } from './admin.js';
export type { DataverseLimits, DeliveryFilter, PersonActions, RequestCountsView, SeedUser, SystemUserInfo } from './admin.js';
export type { FaultPlan, RequestFaults } from './faults.js';
export type { ExpansionSettings, RecurrenceOptions } from './series.js';
export type { EmailOptions, MailboxMethods, MailboxSettings } from './email.js';
export type { WebhookDelivery, WebhookFaults, WebhookRedelivery, DeliveryAttempt } from './webhooks.js';
export { ErrorCodes } from './errors.js';
export type { BatchPartThrottling } from './webapi.js';
export type { HandledRequest } from '../common/https.js';

export interface DataverseSimulatorOptions {
  /** 0 (default) = an ephemeral port. */
  port?: number;
  /** Seed of every random choice (ids, fault decisions); default 1. */
  seed?: number;
  /** The token issuer; pass the one the Graph simulator uses. One is started (and closed with the simulator) if absent. */
  identity?: IdentityProvider;
  limits?: Partial<DataverseLimits>;
  faults?: FaultPlan;
  /** OrganizationName in webhook bodies. */
  organizationName?: string;
  /**
   * Who InitiatingUserId names when a request impersonates a user: 'impersonated' (default; the operation runs as
   * that user) or 'caller' (the authenticated application user). See README "Impersonation".
   */
  initiatingUserUnderImpersonation?: 'impersonated' | 'caller';
  /**
   * Whether a webhook's SharedVariables and ParentContext.SharedVariables carry the request's `tag` (default true).
   * Microsoft documents `tag` for plug-ins, not for asynchronous webhooks: see README "Webhooks".
   */
  webhookCarriesTag?: boolean;
  /**
   * Check Web API writes of activities and contacts against the privileges each user holds (default false: every
   * user may write everything). See privileges.ts; the admin API can switch it at run time.
   */
  enforcePrivileges?: boolean;
  /** Webhook deliveries in flight at once (default 4). */
  webhookConcurrency?: number;
  /**
   * Failed webhook deliveries (no answer, or a non-2xx after the documented retry) sent again: up to `attempts` more
   * times, `afterMs` after the failure, doubling. Default none, as documented; an open behaviour: README "Webhooks".
   */
  webhookRedelivery?: WebhookRedelivery;
  /** Recurring appointment series: organization expansion settings and the choices the docs leave open (README). */
  recurrence?: RecurrenceOptions;
  /** Email: organization upload limit and the choices the docs leave open (README "Email"). */
  email?: EmailOptions;
  /**
   * Whether service protection and throttle faults answer 429 for a whole $batch ('batch', the default) or for its
   * parts one by one ('part'); the docs leave it open (README "$batch"). The admin API can switch it at run time.
   */
  batchPartThrottling?: BatchPartThrottling;
}

export interface DataverseSimulator {
  /** The organisation URL, https://127.0.0.1:PORT (token scope: `${url}/.default`). */
  url: string;
  /** `${url}/api/data/v9.2` */
  apiUrl: string;
  port: number;
  identity: IdentityProvider;
  admin: DataverseAdmin;
  /** 'handled' (HandledRequest) for every Web API request answered (not the admin API), as its status is written. */
  requests: EventEmitter;
  organizationId: string;
  businessUnitId: string;
  close(): Promise<void>;
}

const defaultLimits: DataverseLimits = {
  ...defaultServiceProtectionLimits,
  changeTrackingTokenTtlMs: 7 * 24 * 3600 * 1000,
  maxPageSize: 5000,
  webhookTimeoutMs: 60_000,
  webhookMaxBodyBytes: 256 * 1024,
};

/** Starts the simulator. */
export async function startDataverseSimulator(options: DataverseSimulatorOptions = {}): Promise<DataverseSimulator> {
  const seed = options.seed ?? 1;
  const ownIdentity = options.identity ? undefined : await startIdentityProvider();
  const identity = options.identity ?? ownIdentity!;
  let limits: DataverseLimits = { ...defaultLimits, ...options.limits };
  let clockOffset = 0;
  const now = () => Date.now() + clockOffset;

  // Separate streams per concern so that, e.g., an extra id never shifts a fault decision.
  const streams = { ids: new Prng(seed, 1), requestFaults: new Prng(seed, 2), webhookFaults: new Prng(seed, 3), webhookIds: new Prng(seed, 4) };
  // Records created without an id get sequential GUIDs, as Dataverse gives them (see SequentialGuids).
  let recordIds = new SequentialGuids(new Prng(seed, 5));
  let mailboxIds = new SequentialGuids(new Prng(seed, 6));
  const meta = new Prng(seed, 0);
  const organizationId = meta.guid();
  const businessUnitId = meta.guid();
  const systemUserSeedId = meta.guid();
  const metaSeed = meta.uint32();

  const store = new Store(entities);
  let orgUrl = 'https://127.0.0.1';
  let evictedBelowVersion = 0;
  const counters = new RequestCounters();
  const requests = new EventEmitter();
  requests.setMaxListeners(0);
  let batchPartThrottling: BatchPartThrottling = options.batchPartThrottling ?? 'batch';
  const dispatcher = new WebhookDispatcher({
    store,
    ids: { guid: () => streams.webhookIds.guid() },
    faults: () => streams.webhookFaults,
    organizationId,
    organizationName: options.organizationName ?? 'simorg',
    organizationDomain: '127.0.0.1',
    businessUnitId,
    timeoutMs: () => limits.webhookTimeoutMs,
    maxBodyBytes: () => limits.webhookMaxBodyBytes,
    initiatingUser: () => options.initiatingUserUnderImpersonation ?? 'impersonated',
    carriesTag: () => options.webhookCarriesTag ?? true,
    concurrency: options.webhookConcurrency ?? 4,
    now,
    redelivery: () => options.webhookRedelivery,
  });
  const engine = new Engine({ store, ids: { guid: () => recordIds.guid() }, now, businessUnitId, onEvent: (e) => dispatcher.handle(e) });
  const series = new SeriesPlatform({ store, engine, ids: { guid: () => recordIds.guid() }, now, systemUserId: () => systemUserSeedId, options: options.recurrence ?? {} });
  const email = new EmailPlatform({
    store,
    engine,
    mailboxIds: { guid: () => mailboxIds.guid() },
    now,
    systemUserId: () => systemUserSeedId,
    correlationId: () => streams.ids.guid(),
    options: options.email ?? {},
  });
  const userSettings = new UserSettingsPlatform(store);
  const privileges = new PrivilegeBook(options.enforcePrivileges ?? false);
  engine.setHooks(combineHooks(series.hooks(), email.hooks(), userSettings.hooks()));
  const protection = new ServiceProtection(limits, now);
  const requestFaults = new RequestFaultInjector(() => streams.requestFaults);

  const seedMetadata = () => {
    const m = new Prng(metaSeed, 7);
    store.table('systemuser').put(
      { systemuserid: systemUserSeedId, fullname: 'SYSTEM', firstname: null, lastname: 'SYSTEM', isdisabled: false, accessmode: 0, versionnumber: store.nextVersion() },
      store.currentVersion(),
    );
    const messages = store.table('sdkmessage');
    const filters = store.table('sdkmessagefilter');
    const filtered = ['appointment', 'task', 'phonecall', 'letter', 'fax', 'contact', 'account'];
    /** One sdkmessagefilter row: message `id` may have steps on table `entity`. */
    const putFilter = (id: string, entity: string) =>
      filters.put(
        {
          sdkmessagefilterid: m.guid(),
          primaryobjecttypecode: entity,
          secondaryobjecttypecode: 'none',
          sdkmessageid: { id, logicalName: 'sdkmessage' },
          iscustomprocessingstepallowed: true,
          isvisible: true,
          versionnumber: store.nextVersion(),
        },
        store.currentVersion(),
      );
    for (const name of sdkMessageNames) {
      const id = m.guid();
      messages.put({ sdkmessageid: id, name, versionnumber: store.nextVersion() }, store.currentVersion());
      for (const entity of filtered) {
        putFilter(id, entity);
      }
    }
    // The series table's messages, after the others so that their ids stay as they were
    // (recurringappointmentmaster.md "Messages": AddRecurrence and DeleteOpenInstances are events too).
    const seriesMessages = new Map<string, string>();
    for (const row of messages.rows.values()) seriesMessages.set(text(row['name']), text(row['sdkmessageid']));
    for (const name of ['AddRecurrence', 'DeleteOpenInstances']) {
      const id = m.guid();
      messages.put({ sdkmessageid: id, name, versionnumber: store.nextVersion() }, store.currentVersion());
      seriesMessages.set(name, id);
    }
    for (const id of seriesMessages.values()) {
      putFilter(id, 'recurringappointmentmaster');
    }
    // The email tables' filters and the SendEmail message, after everything else so the ids above stay as they were
    // (email.md "Messages": Create, Update, Delete, SetState, SendEmail … are events).
    const byName = new Map<string, string>();
    for (const row of messages.rows.values()) byName.set(text(row['name']), text(row['sdkmessageid']));
    const sendEmailId = m.guid();
    messages.put({ sdkmessageid: sendEmailId, name: 'SendEmail', versionnumber: store.nextVersion() }, store.currentVersion());
    const emailFilters: Array<[string, string]> = [];
    for (const name of sdkMessageNames) for (const entity of emailFilterTables) emailFilters.push([byName.get(name)!, entity]);
    emailFilters.push([sendEmailId, 'email']);
    for (const [id, entity] of emailFilters) {
      putFilter(id, entity);
    }
    series.seedOrganization(organizationId, options.organizationName ?? 'simorg');
    email.seedOrganization();
  };

  const resetAll = () => {
    dispatcher.reset();
    store.clear();
    counters.reset();
    privileges.reset();
    protection.reset();
    webApi.reset();
    streams.ids = new Prng(seed, 1);
    recordIds = new SequentialGuids(new Prng(seed, 5));
    mailboxIds = new SequentialGuids(new Prng(seed, 6));
    streams.requestFaults = new Prng(seed, 2);
    streams.webhookFaults = new Prng(seed, 3);
    streams.webhookIds = new Prng(seed, 4);
    evictedBelowVersion = 0;
    requestFaults.setPlan(options.faults?.requests);
    dispatcher.setFaults(options.faults?.webhooks);
    seedMetadata();
  };

  const nameOf = (ref: LookupRef): string | null => {
    const def = entityByLogicalName.get(ref.logicalName);
    const v = def ? store.table(ref.logicalName).get(ref.id)?.[def.primaryName] : undefined;
    return typeof v === 'string' ? v : null;
  };

  const webApi = new WebApi({
    orgUrl: () => orgUrl,
    identity,
    store,
    engine,
    protection,
    faults: requestFaults,
    ids: { guid: () => streams.ids.guid() },
    now,
    organizationId,
    businessUnitId,
    changeTrackingTtlMs: () => limits.changeTrackingTokenTtlMs,
    evictedBelowVersion: () => evictedBelowVersion,
    maxPageSize: () => limits.maxPageSize,
    counters,
    series,
    email,
    privileges,
    batchPartThrottling: () => batchPartThrottling,
    partHandled: (handled) => requests.emit('handled', handled),
  });

  const admin = new DataverseAdmin({
    store,
    engine,
    ids: { guid: () => streams.ids.guid() },
    systemUserId: () => systemUserSeedId,
    reset: resetAll,
    deliveries: () => dispatcher.deliveries(),
    waitFor: (p, count, timeoutMs) => dispatcher.waitFor(p, count, timeoutMs),
    flush: () => dispatcher.flush(),
    counts: () => ({
      total: counters.total,
      byUser: Object.fromEntries(counters.byUser),
      byRoute: Object.fromEntries(counters.byRoute),
      byStatus: Object.fromEntries([...counters.byStatus].map(([k, v]) => [String(k), v])),
      batchParts: counters.batchParts,
      batchesByStatus: Object.fromEntries([...counters.batchesByStatus].map(([k, v]) => [String(k), v])),
      batchPartsByStatus: Object.fromEntries([...counters.batchPartsByStatus].map(([k, v]) => [String(k), v])),
      recentErrors: [...counters.recentErrors],
    }),
    setBatchPartThrottling: (mode) => void (batchPartThrottling = mode),
    setFaultPlan: (plan) => {
      requestFaults.setPlan(plan.requests);
      dispatcher.setFaults(plan.webhooks);
    },
    hold: (match) => requestFaults.hold(match),
    getLimits: () => ({ ...limits }),
    setLimits: (partial) => {
      limits = { ...limits, ...partial };
      protection.setLimits(limits);
    },
    advanceClock: (ms) => {
      const from = now();
      clockOffset += ms;
      series.clockAdvanced(from, now());
    },
    series,
    email,
    userSettings,
    privileges,
    now,
    expireChangeTracking: () => void (evictedBelowVersion = store.currentVersion()),
    nameOf,
  });

  resetAll();

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', orgUrl);
    if (url.pathname.startsWith('/api/data/')) return webApi.handle(req, res, url);
    if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) return handleAdminHttp(admin, req, res, url);
    sendJson(res, 404, { error: { code: '0x80060888', message: `Resource not found for the segment '${url.pathname}'.` } });
  };
  // A $batch is reported by its parts (partHandled above), each as the single request it stands for.
  const http = await startHttpsServer(options.port ?? 0, observeRequests(handler, requests, (path) => path.startsWith('/_sim') || path.endsWith('/$batch')));
  orgUrl = http.origin;

  return {
    url: http.origin,
    apiUrl: `${http.origin}/api/data/v9.2`,
    port: http.port,
    identity,
    admin,
    requests,
    organizationId,
    businessUnitId,
    close: async () => {
      series.close();
      dispatcher.close();
      await http.close();
      if (ownIdentity) await ownIdentity.close();
    },
  };
}
