// The admin API of the simulator (outside /api/data): reset, seeding, acting as a person in Dynamics 365, the fault
// plan, limits, the clock, and inspection. Served in-process (DataverseAdmin) and over HTTP under /_sim/ for other
// processes (DataverseAdminClient), with every HTTP input validated by zod.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { readBody, sendJson } from '../common/https.js';
import type { Caller, Engine } from './engine.js';
import { DataverseError, badValue, notFound } from './errors.js';
import type { FaultPlan, RequestHold } from './faults.js';
import type { ServiceProtectionLimits } from './limits.js';
import type { BatchPartThrottling } from './webapi.js';
import { parseFilter } from './odata.js';
import type { IdSource } from './prng.js';
import { entityBySet, entityDef, stateOption, type EntityDef } from './schema.js';
import type { EmailPlatform, MailboxSettings } from './email.js';
import type { UserSettingsPlatform } from './userSettings.js';
import { privilegeDepths, type HeldPrivilege, type PrivilegeBook } from './privileges.js';
import type { ExpansionSettings, SeriesPlatform } from './series.js';
import { rowToJson } from './serialize.js';
import { text, type LookupRef, type Row, type Store } from './store.js';
import type { WebhookDelivery } from './webhooks.js';

export interface DataverseLimits extends ServiceProtectionLimits {
  /** How long a change-tracking delta token stays valid (Organization.ExpireChangeTrackingInDays, 7 days). */
  changeTrackingTokenTtlMs: number;
  /** Largest page returned (Dataverse's default and maximum page size is 5000). */
  maxPageSize: number;
  /** Webhook request timeout (60 s). */
  webhookTimeoutMs: number;
  /** Webhook bodies above this size lose ParentContext, InputParameters and images (256 KB). */
  webhookMaxBodyBytes: number;
}

export interface SeedUser {
  systemuserid?: string;
  fullname?: string;
  firstname?: string;
  lastname?: string;
  internalemailaddress?: string;
  domainname?: string;
  azureactivedirectoryobjectid?: string;
  applicationid?: string;
  isdisabled?: boolean;
}

export interface SystemUserInfo {
  systemuserid: string;
  fullname: string | null;
  internalemailaddress: string | null;
  domainname: string | null;
  azureactivedirectoryobjectid: string | null;
  applicationid: string | null;
  isdisabled: boolean;
}

export interface DeliveryFilter {
  stepId?: string;
  entity?: string;
  message?: string;
  recordId?: string;
  state?: WebhookDelivery['state'];
}

export interface RequestCountsView {
  total: number;
  byUser: Record<string, number>;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  /** Parts of $batch requests answered (counted in byRoute and byStatus, not in total and byUser: a batch is one request). */
  batchParts: number;
  /** The answers of the $batch requests themselves by status (a 429 for a whole batch), and of their parts. */
  batchesByStatus: Record<string, number>;
  batchPartsByStatus: Record<string, number>;
  recentErrors: Array<{ route: string; status: number; code: string; message: string }>;
}

/** What a person can do in Dynamics 365 through the admin API; each action raises webhooks like a real change. */
export interface PersonActions {
  create(setName: string, body: Record<string, unknown>, options?: { tag?: string }): Record<string, unknown>;
  update(setName: string, id: string, body: Record<string, unknown>, options?: { tag?: string }): Record<string, unknown>;
  delete(setName: string, id: string, options?: { tag?: string }): void;
  /** Marks an activity completed (statecode 1 with its default status). */
  complete(setName: string, id: string): Record<string, unknown>;
  /** Marks an activity canceled (statecode 2 with its default status). */
  cancel(setName: string, id: string): Record<string, unknown>;
  setState(setName: string, id: string, statecode: number, statuscode?: number): Record<string, unknown>;
  /** The AddRecurrence action on an appointment, as the person (body: `{ Target }`); returns the new master. */
  addRecurrence(appointmentId: string, body: Record<string, unknown>): Record<string, unknown>;
  /** The DeleteOpenInstances action on a series, as the person (body: `{ SeriesEndDate, StateOfPastInstances }`). */
  deleteOpenInstances(seriesId: string, body: Record<string, unknown>): void;
}

export interface AdminDeps {
  store: Store;
  engine: Engine;
  ids: IdSource;
  systemUserId: () => string;
  reset: () => void;
  deliveries: () => readonly WebhookDelivery[];
  waitFor: (predicate: (d: WebhookDelivery) => boolean, count: number, timeoutMs: number) => Promise<WebhookDelivery[]>;
  flush: () => Promise<void>;
  counts: () => RequestCountsView;
  setFaultPlan: (plan: FaultPlan) => void;
  hold: (match: string) => RequestHold;
  getLimits: () => DataverseLimits;
  setLimits: (limits: Partial<DataverseLimits>) => void;
  setBatchPartThrottling: (mode: BatchPartThrottling) => void;
  advanceClock: (ms: number) => void;
  now: () => number;
  expireChangeTracking: () => void;
  nameOf: (ref: LookupRef) => string | null;
  series: SeriesPlatform;
  email: EmailPlatform;
  userSettings: UserSettingsPlatform;
  privileges: PrivilegeBook;
}

function tableOf(setName: string): EntityDef {
  const def = entityBySet.get(setName);
  if (!def) throw new DataverseError(404, '0x80060888', `Unknown entity set '${setName}'.`);
  return def;
}

function matchesDelivery(where: DeliveryFilter | undefined, d: WebhookDelivery): boolean {
  if (!where) return true;
  return (
    (where.stepId === undefined || d.stepId === where.stepId.toLowerCase()) &&
    (where.entity === undefined || d.entity === where.entity) &&
    (where.message === undefined || d.message === where.message) &&
    (where.recordId === undefined || d.recordId === where.recordId.toLowerCase()) &&
    (where.state === undefined || d.state === where.state)
  );
}

/** The typed, in-process admin API. */
export class DataverseAdmin {
  constructor(private readonly d: AdminDeps) {}

  /** Removes all records, users, registrations, deliveries and counters, and reseeds the PRNG streams. */
  reset(): void {
    this.d.reset();
  }

  /** The built-in SYSTEM user that seeding writes as. */
  get systemUserId(): string {
    return this.d.systemUserId();
  }

  /** Seeds a (person) systemuser. */
  seedUser(user: SeedUser): SystemUserInfo {
    const body: Record<string, unknown> = { ...user };
    delete body['fullname'];
    if (!user.firstname && !user.lastname && user.fullname) {
      const [first, ...rest] = user.fullname.split(' ');
      body['firstname'] = first;
      if (rest.length) body['lastname'] = rest.join(' ');
    }
    const row = this.d.engine.create(tableOf('systemusers'), body, this.systemCaller(), { emit: false });
    return this.userInfo(text(row['systemuserid']));
  }

  seedUsers(users: SeedUser[]): SystemUserInfo[] {
    return users.map((u) => this.seedUser(u));
  }

  /** Seeds the application user an app registration maps to (a systemuser with applicationid = client id). */
  seedApplicationUser(input: { clientId: string; fullname?: string; azureactivedirectoryobjectid?: string; systemuserid?: string }): SystemUserInfo {
    const row = this.d.engine.create(
      tableOf('systemusers'),
      {
        ...(input.systemuserid ? { systemuserid: input.systemuserid } : {}),
        firstname: '#',
        lastname: input.fullname ?? `app ${input.clientId}`,
        applicationid: input.clientId,
        accessmode: 4,
        ...(input.azureactivedirectoryobjectid ? { azureactivedirectoryobjectid: input.azureactivedirectoryobjectid } : {}),
      },
      this.systemCaller(),
      { emit: false },
    );
    return this.userInfo(text(row['systemuserid']));
  }

  private userInfo(id: string): SystemUserInfo {
    const row = this.d.store.table('systemuser').get(id)!;
    const s = (k: string) => {
      const v = row[k];
      return typeof v === 'string' ? v : null;
    };
    return {
      systemuserid: id,
      fullname: s('fullname'),
      internalemailaddress: s('internalemailaddress'),
      domainname: s('domainname'),
      azureactivedirectoryobjectid: s('azureactivedirectoryobjectid'),
      applicationid: s('applicationid'),
      isdisabled: row['isdisabled'] === true,
    };
  }

  /** Seeds records quietly (no webhooks, no limits), written by SYSTEM; bodies are Web API JSON. Returns the ids. */
  seedRecords(setName: string, records: Array<Record<string, unknown>>, options: { ownerId?: string } = {}): string[] {
    const def = tableOf(setName);
    const caller = options.ownerId ? { ...this.systemCaller(), userId: options.ownerId } : this.systemCaller();
    return records.map((r) => text(this.d.engine.create(def, r, caller, { emit: false })[def.primaryId]));
  }

  /** Acts as a person in Dynamics 365: the writes raise webhooks with that user as initiating user. */
  as(userId: string): PersonActions {
    const users = this.d.store.table('systemuser');
    if (!users.get(userId)) throw notFound('systemuser', userId);
    const caller = (tag?: string): Caller => ({ authenticatedUserId: userId.toLowerCase(), userId: userId.toLowerCase(), tag, correlationId: this.d.ids.guid() });
    const stateChange = (setName: string, id: string, state: number, status?: number) => {
      const def = tableOf(setName);
      const option = stateOption(def, state);
      if (!option) throw badValue(`${state} is not a state of ${def.logicalName}.`);
      const { row } = this.d.engine.update(def, id, { statecode: state, statuscode: status ?? option.defaultStatus }, caller());
      return this.view(def, row);
    };
    return {
      create: (setName, body, options) => {
        const def = tableOf(setName);
        return this.view(def, this.d.engine.create(def, body, caller(options?.tag)));
      },
      update: (setName, id, body, options) => {
        const def = tableOf(setName);
        return this.view(def, this.d.engine.update(def, id, body, caller(options?.tag)).row);
      },
      delete: (setName, id, options) => this.d.engine.remove(tableOf(setName), id, caller(options?.tag)),
      complete: (setName, id) => stateChange(setName, id, 1),
      cancel: (setName, id) => stateChange(setName, id, 2),
      setState: (setName, id, statecode, statuscode) => stateChange(setName, id, statecode, statuscode),
      addRecurrence: (appointmentId, body) => this.view(entityDef('recurringappointmentmaster'), this.d.series.addRecurrence(appointmentId, body, caller())),
      deleteOpenInstances: (seriesId, body) => this.d.series.deleteOpenInstances(seriesId, body, caller()),
    };
  }

  private view(def: EntityDef, row: Row): Record<string, unknown> {
    const json = rowToJson(def, row, { nameOf: this.d.nameOf, annotations: (n) => n === 'Microsoft.Dynamics.CRM.lookuplogicalname' });
    if (def.activity) {
      const partyDef = entityBySet.get('activityparties')!;
      json[def.activity.partyNav] = this.d.engine.partiesOf(text(row[def.primaryId])).map((p) =>
        rowToJson(partyDef, p, { nameOf: this.d.nameOf, annotations: (n) => n === 'Microsoft.Dynamics.CRM.lookuplogicalname' }),
      );
    }
    return json;
  }

  /** One record as Web API JSON (activities with their parties), or undefined. */
  record(setName: string, id: string): Record<string, unknown> | undefined {
    const def = tableOf(setName);
    const row = this.d.engine.get(def, id);
    return row ? this.view(def, row) : undefined;
  }

  /** Records of a set, optionally filtered with an OData $filter expression. */
  records(setName: string, filter?: string): Array<Record<string, unknown>> {
    const def = tableOf(setName);
    return this.d.engine.query(def, filter ? parseFilter(def, filter) : undefined, []).map((r) => this.view(def, r));
  }

  /** Webhook deliveries so far, oldest first. */
  deliveries(where?: DeliveryFilter): WebhookDelivery[] {
    return this.d.deliveries().filter((x) => matchesDelivery(where, x));
  }

  /** Waits until `count` matching deliveries have settled (delivered, failed or dropped). */
  waitForDeliveries(options: { count: number; where?: DeliveryFilter; timeoutMs?: number }): Promise<WebhookDelivery[]> {
    return this.d.waitFor((x) => matchesDelivery(options.where, x), options.count, options.timeoutMs ?? 20_000);
  }

  /** Releases held deliveries and waits until none is queued, delayed or in flight. */
  flushWebhooks(): Promise<void> {
    return this.d.flush();
  }

  requestCounts(): RequestCountsView {
    return this.d.counts();
  }

  setFaultPlan(plan: FaultPlan): void {
    this.d.setFaultPlan(plan);
  }

  /**
   * Holds Web API requests whose "METHOD /path" matches, after admission (they count as in flight), until released;
   * for deterministic tests of the concurrency limit. In-process only.
   */
  holdRequests(match: string): RequestHold {
    return this.d.hold(match);
  }

  limits(): DataverseLimits {
    return this.d.getLimits();
  }

  setLimits(limits: Partial<DataverseLimits>): void {
    this.d.setLimits(limits);
  }

  /** Where a $batch's 429s come from: the whole batch ('batch') or each part ('part'). See README "$batch". */
  setBatchPartThrottling(mode: BatchPartThrottling): void {
    this.d.setBatchPartThrottling(mode);
  }

  /** Moves the simulator's clock forward (token expiry, service protection windows) without waiting. */
  advanceClock(ms: number): void {
    this.d.advanceClock(ms);
  }

  now(): number {
    return this.d.now();
  }

  /** Runs the asynchronous recurrence expansion job once (one batch); returns the instances it created. */
  runRecurrenceExpansion(): number {
    return this.d.series.runExpansionJob();
  }

  /** The organization's recurrence expansion settings (also readable as GET organizations). */
  organizationSettings(): ExpansionSettings {
    return this.d.series.settings();
  }

  /** Changes organization expansion settings (as an administrator does in the organization table). */
  setOrganizationSettings(settings: Partial<ExpansionSettings>): ExpansionSettings {
    return this.d.series.setSettings(settings);
  }

  /** A system user's mailbox row as Web API JSON (every user gets one when created). */
  mailbox(userId: string): Record<string, unknown> {
    const row = this.d.email.mailboxOf(userId);
    if (!row) throw notFound('mailbox', `for systemuser ${userId}`);
    return this.view(entityBySet.get('mailboxes')!, row);
  }

  /** Sets a user's mailbox columns (delivery methods, address, enabled flags) quietly, as an administrator does. */
  setMailbox(userId: string, settings: MailboxSettings): Record<string, unknown> {
    return this.view(entityBySet.get('mailboxes')!, this.d.email.setMailbox(userId, settings));
  }

  /** Sets a user's own time zone (usersettings.timezonecode), as the user does in Personal Options. */
  setUserTimeZone(userId: string, timezonecode: number): Record<string, unknown> {
    return this.view(entityBySet.get('usersettingscollection')!, this.d.userSettings.setTimeZone(userId, timezonecode));
  }

  /** Sets the privileges a user holds through its roles (what RetrieveUserPrivileges answers), as an administrator edits its roles. */
  setUserPrivileges(userId: string, privileges: HeldPrivilege[]): HeldPrivilege[] {
    if (!this.d.store.table('systemuser').get(userId.toLowerCase())) throw notFound('systemuser', userId.toLowerCase());
    this.d.privileges.set(userId, privileges);
    return privileges;
  }

  /** Switches privilege enforcement on Web API writes on or off (privileges.ts); returns the new state. */
  setPrivilegeEnforcement(on: boolean): boolean {
    this.d.privileges.setEnforcing(on);
    return on;
  }

  /** organization.maxuploadfilesize in bytes (attachment size limit). */
  maxUploadFileSize(): number {
    return this.d.email.maxUploadFileSize();
  }

  setMaxUploadFileSize(bytes: number): number {
    return this.d.email.setMaxUploadFileSize(bytes);
  }

  /** Expires every change-tracking delta token handed out so far (as an evicted or expired token). */
  expireChangeTrackingTokens(): void {
    this.d.expireChangeTracking();
  }

  private systemCaller(): Caller {
    const id = this.d.systemUserId();
    return { authenticatedUserId: id, userId: id, tag: undefined, correlationId: this.d.ids.guid() };
  }
}

// ---- HTTP: /_sim/... ----

const guid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID');
const seedUserSchema = z.strictObject({
  systemuserid: guid.optional(),
  fullname: z.string().optional(),
  firstname: z.string().optional(),
  lastname: z.string().optional(),
  internalemailaddress: z.string().optional(),
  domainname: z.string().optional(),
  azureactivedirectoryobjectid: guid.optional(),
  applicationid: guid.optional(),
  isdisabled: z.boolean().optional(),
});
const deliveryFilterSchema = z.strictObject({
  stepId: z.string().optional(),
  entity: z.string().optional(),
  message: z.string().optional(),
  recordId: z.string().optional(),
  state: z.enum(['pending', 'delivered', 'failed', 'dropped']).optional(),
});
const probability = z.number().min(0).max(1);
const faultPlanSchema = z.strictObject({
  requests: z
    .strictObject({
      match: z.string().optional(),
      latencyMs: z.union([z.number().int().min(0), z.strictObject({ min: z.number().int().min(0), max: z.number().int().min(0) })]).optional(),
      throttle: z.strictObject({ probability, burst: z.number().int().min(1).optional(), retryAfterSeconds: z.number().int().min(0).optional() }).optional(),
      serverError: z.strictObject({ probability, status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]).optional(), afterExecution: z.boolean().optional(), times: z.number().int().min(1).optional() }).optional(),
      reject: z.strictObject({ probability, status: z.number().int().min(400).max(499).optional(), code: z.string().optional(), message: z.string().optional() }).optional(),
    })
    .optional(),
  webhooks: z
    .strictObject({
      dropProbability: probability.optional(),
      duplicateProbability: probability.optional(),
      delay: z.strictObject({ probability, ms: z.number().int().min(0) }).optional(),
      reorderProbability: probability.optional(),
    })
    .optional(),
});
const limitsSchema = z.strictObject({
  requestsPerWindow: z.number().int().min(1).optional(),
  windowSeconds: z.number().int().min(1).optional(),
  executionTimeMsPerWindow: z.number().int().min(1).optional(),
  concurrentRequests: z.number().int().min(1).optional(),
  changeTrackingTokenTtlMs: z.number().int().min(1).optional(),
  maxPageSize: z.number().int().min(1).max(5000).optional(),
  webhookTimeoutMs: z.number().int().min(1).optional(),
  webhookMaxBodyBytes: z.number().int().min(1).optional(),
});
const actSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('create'), userId: guid, set: z.string(), body: z.record(z.string(), z.unknown()), tag: z.string().optional() }),
  z.strictObject({ action: z.literal('update'), userId: guid, set: z.string(), id: guid, body: z.record(z.string(), z.unknown()), tag: z.string().optional() }),
  z.strictObject({ action: z.literal('delete'), userId: guid, set: z.string(), id: guid, tag: z.string().optional() }),
  z.strictObject({ action: z.literal('complete'), userId: guid, set: z.string(), id: guid }),
  z.strictObject({ action: z.literal('cancel'), userId: guid, set: z.string(), id: guid }),
  z.strictObject({ action: z.literal('setState'), userId: guid, set: z.string(), id: guid, statecode: z.number().int(), statuscode: z.number().int().optional() }),
]);

const mailboxSchema = z.strictObject({
  incomingemaildeliverymethod: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]).optional(),
  outgoingemaildeliverymethod: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  actdeliverymethod: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  emailaddress: z.string().max(100).optional(),
  enabledforincomingemail: z.boolean().optional(),
  enabledforoutgoingemail: z.boolean().optional(),
  enabledforact: z.boolean().optional(),
  orgmarkedasprimaryforexchangesync: z.boolean().optional(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`).join('; ');
    throw badValue(`Invalid ${what}: ${issues}`);
  }
  return r.data;
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (!text.trim()) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badValue('The admin request body is not valid JSON.');
  }
}

/** Serves the admin API over HTTP under /_sim/. */
export async function handleAdminHttp(admin: DataverseAdmin, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? 'GET';
  const parts = url.pathname.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
  const route = `${method} /${parts.join('/')}`;
  try {
    if (route === 'POST /reset') {
      admin.reset();
      return sendJson(res, 200, { ok: true });
    }
    if (route === 'POST /users') {
      const body = await jsonBody(req);
      const users = parse(z.union([seedUserSchema, z.array(seedUserSchema)]), body, 'users');
      return sendJson(res, 201, { value: admin.seedUsers(Array.isArray(users) ? users : [users]) });
    }
    if (route === 'POST /application-users') {
      const body = parse(z.strictObject({ clientId: z.string().min(1), fullname: z.string().optional(), azureactivedirectoryobjectid: guid.optional(), systemuserid: guid.optional() }), await jsonBody(req), 'application user');
      return sendJson(res, 201, admin.seedApplicationUser(body));
    }
    if (method === 'POST' && parts[0] === 'records' && parts.length === 2) {
      const body = parse(z.strictObject({ records: z.array(z.record(z.string(), z.unknown())), ownerId: guid.optional() }), await jsonBody(req), 'records');
      return sendJson(res, 201, { ids: admin.seedRecords(parts[1]!, body.records, body.ownerId ? { ownerId: body.ownerId } : {}) });
    }
    if (method === 'GET' && parts[0] === 'records' && parts.length === 2) {
      return sendJson(res, 200, { value: admin.records(parts[1]!, url.searchParams.get('filter') ?? undefined) });
    }
    if (method === 'GET' && parts[0] === 'records' && parts.length === 3) {
      const record = admin.record(parts[1]!, parts[2]!);
      if (!record) throw notFound(tableOf(parts[1]!).logicalName, parts[2]!);
      return sendJson(res, 200, record);
    }
    if (route === 'POST /act') {
      const a = parse(actSchema, await jsonBody(req), 'action');
      const who = admin.as(a.userId);
      const tagged = 'tag' in a && a.tag !== undefined ? { tag: a.tag } : undefined;
      switch (a.action) {
        case 'create':
          return sendJson(res, 201, who.create(a.set, a.body, tagged));
        case 'update':
          return sendJson(res, 200, who.update(a.set, a.id, a.body, tagged));
        case 'delete':
          who.delete(a.set, a.id, tagged);
          return sendJson(res, 200, { ok: true });
        case 'complete':
          return sendJson(res, 200, who.complete(a.set, a.id));
        case 'cancel':
          return sendJson(res, 200, who.cancel(a.set, a.id));
        case 'setState':
          return sendJson(res, 200, who.setState(a.set, a.id, a.statecode, a.statuscode));
      }
    }
    if (route === 'GET /deliveries') {
      const where = parse(deliveryFilterSchema, Object.fromEntries(url.searchParams), 'delivery filter');
      return sendJson(res, 200, { value: admin.deliveries(where) });
    }
    if (route === 'POST /deliveries/wait') {
      const body = parse(z.strictObject({ count: z.number().int().min(1), where: deliveryFilterSchema.optional(), timeoutMs: z.number().int().min(1).optional() }), await jsonBody(req), 'wait');
      const value = await admin.waitForDeliveries({ count: body.count, ...(body.where ? { where: body.where } : {}), ...(body.timeoutMs ? { timeoutMs: body.timeoutMs } : {}) }).catch((e: unknown) => {
        throw new DataverseError(408, '', e instanceof Error ? e.message : String(e));
      });
      return sendJson(res, 200, { value });
    }
    if (route === 'POST /webhooks/flush') {
      await admin.flushWebhooks();
      return sendJson(res, 200, { ok: true });
    }
    if (route === 'GET /requests') return sendJson(res, 200, admin.requestCounts());
    if (route === 'PUT /faults') {
      admin.setFaultPlan(parse(faultPlanSchema, await jsonBody(req), 'fault plan'));
      return sendJson(res, 200, { ok: true });
    }
    if (route === 'GET /limits') return sendJson(res, 200, admin.limits());
    if (route === 'PUT /limits') {
      admin.setLimits(parse(limitsSchema, await jsonBody(req), 'limits'));
      return sendJson(res, 200, admin.limits());
    }
    if (route === 'POST /clock/advance') {
      const body = parse(z.strictObject({ ms: z.number().int().min(0) }), await jsonBody(req), 'clock advance');
      admin.advanceClock(body.ms);
      return sendJson(res, 200, { now: new Date(admin.now()).toISOString() });
    }
    if (route === 'POST /recurrence/expand') return sendJson(res, 200, { created: admin.runRecurrenceExpansion() });
    if (route === 'GET /organization') return sendJson(res, 200, admin.organizationSettings());
    if (route === 'PUT /organization') {
      const positive = z.number().int().min(1).optional();
      const body = parse(
        z.strictObject({
          pastexpansionwindow: positive,
          futureexpansionwindow: positive,
          recurrenceexpansionsynchcreatemax: positive,
          recurrenceexpansionjobbatchsize: positive,
          recurrenceexpansionjobbatchinterval: positive,
        }),
        await jsonBody(req),
        'organization settings',
      );
      const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as Partial<ExpansionSettings>;
      return sendJson(res, 200, admin.setOrganizationSettings(clean));
    }
    if (method === 'GET' && parts[0] === 'mailboxes' && parts.length === 2) return sendJson(res, 200, admin.mailbox(parts[1]!));
    if (method === 'PUT' && parts[0] === 'mailboxes' && parts.length === 2) {
      const body = parse(mailboxSchema, await jsonBody(req), 'mailbox settings');
      const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)) as MailboxSettings;
      return sendJson(res, 200, admin.setMailbox(parts[1]!, clean));
    }
    if (route === 'PUT /privileges/enforcement') {
      const body = parse(z.strictObject({ enforce: z.boolean() }), await jsonBody(req), 'privilege enforcement');
      return sendJson(res, 200, { enforce: admin.setPrivilegeEnforcement(body.enforce) });
    }
    if (method === 'PUT' && parts[0] === 'privileges' && parts.length === 2) {
      const body = parse(z.strictObject({ privileges: z.array(z.strictObject({ name: z.string().regex(/^prv[A-Za-z]+$/), depth: z.enum(privilegeDepths) })) }), await jsonBody(req), 'privileges');
      return sendJson(res, 200, admin.setUserPrivileges(parts[1]!, body.privileges));
    }
    if (method === 'PUT' && parts[0] === 'usersettings' && parts.length === 2) {
      const body = parse(z.strictObject({ timezonecode: z.number().int().min(0) }), await jsonBody(req), 'user settings');
      return sendJson(res, 200, admin.setUserTimeZone(parts[1]!, body.timezonecode));
    }
    if (route === 'GET /organization/email') return sendJson(res, 200, { maxuploadfilesize: admin.maxUploadFileSize() });
    if (route === 'PUT /organization/email') {
      const body = parse(z.strictObject({ maxuploadfilesize: z.number().int().min(0).max(131_072_000) }), await jsonBody(req), 'email settings');
      return sendJson(res, 200, { maxuploadfilesize: admin.setMaxUploadFileSize(body.maxuploadfilesize) });
    }
    if (route === 'POST /change-tracking/expire') {
      admin.expireChangeTrackingTokens();
      return sendJson(res, 200, { ok: true });
    }
    throw new DataverseError(404, '', `No admin route ${route}.`);
  } catch (err) {
    if (err instanceof DataverseError) return sendJson(res, err.status, err.body());
    throw err;
  }
}

/** A typed client of the admin HTTP API, for tests and tools in another process. */
export class DataverseAdminClient {
  constructor(private readonly baseUrl: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl.replace(/\/$/, '')}/_sim${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const raw = await res.text();
    const json = raw ? (JSON.parse(raw) as unknown) : undefined;
    if (!res.ok) {
      const message = (json as { error?: { message?: string } } | undefined)?.error?.message ?? raw;
      throw new Error(`admin ${method} ${path} failed with ${res.status}: ${message}`);
    }
    return json as T;
  }

  reset(): Promise<unknown> {
    return this.call('POST', '/reset');
  }

  async seedUsers(users: SeedUser[]): Promise<SystemUserInfo[]> {
    return (await this.call<{ value: SystemUserInfo[] }>('POST', '/users', users)).value;
  }

  seedApplicationUser(input: { clientId: string; fullname?: string; azureactivedirectoryobjectid?: string; systemuserid?: string }): Promise<SystemUserInfo> {
    return this.call('POST', '/application-users', input);
  }

  async seedRecords(setName: string, records: Array<Record<string, unknown>>, ownerId?: string): Promise<string[]> {
    return (await this.call<{ ids: string[] }>('POST', `/records/${encodeURIComponent(setName)}`, { records, ...(ownerId ? { ownerId } : {}) })).ids;
  }

  async records(setName: string, filter?: string): Promise<Array<Record<string, unknown>>> {
    const q = filter ? `?filter=${encodeURIComponent(filter)}` : '';
    return (await this.call<{ value: Array<Record<string, unknown>> }>('GET', `/records/${encodeURIComponent(setName)}${q}`)).value;
  }

  record(setName: string, id: string): Promise<Record<string, unknown>> {
    return this.call('GET', `/records/${encodeURIComponent(setName)}/${id}`);
  }

  /** Acts as a person: create, update, delete, complete, cancel or setState, raising webhooks. */
  act(
    action:
      | { action: 'create'; userId: string; set: string; body: Record<string, unknown>; tag?: string }
      | { action: 'update'; userId: string; set: string; id: string; body: Record<string, unknown>; tag?: string }
      | { action: 'delete'; userId: string; set: string; id: string; tag?: string }
      | { action: 'complete' | 'cancel'; userId: string; set: string; id: string }
      | { action: 'setState'; userId: string; set: string; id: string; statecode: number; statuscode?: number },
  ): Promise<Record<string, unknown>> {
    return this.call('POST', '/act', action);
  }

  async deliveries(where: DeliveryFilter = {}): Promise<WebhookDelivery[]> {
    const q = new URLSearchParams(Object.entries(where).filter(([, v]) => v !== undefined) as Array<[string, string]>).toString();
    return (await this.call<{ value: WebhookDelivery[] }>('GET', `/deliveries${q ? `?${q}` : ''}`)).value;
  }

  async waitForDeliveries(options: { count: number; where?: DeliveryFilter; timeoutMs?: number }): Promise<WebhookDelivery[]> {
    return (await this.call<{ value: WebhookDelivery[] }>('POST', '/deliveries/wait', options)).value;
  }

  flushWebhooks(): Promise<unknown> {
    return this.call('POST', '/webhooks/flush');
  }

  requestCounts(): Promise<RequestCountsView> {
    return this.call('GET', '/requests');
  }

  setFaultPlan(plan: FaultPlan): Promise<unknown> {
    return this.call('PUT', '/faults', plan);
  }

  limits(): Promise<DataverseLimits> {
    return this.call('GET', '/limits');
  }

  setLimits(limits: Partial<DataverseLimits>): Promise<DataverseLimits> {
    return this.call('PUT', '/limits', limits);
  }

  advanceClock(ms: number): Promise<unknown> {
    return this.call('POST', '/clock/advance', { ms });
  }

  expireChangeTrackingTokens(): Promise<unknown> {
    return this.call('POST', '/change-tracking/expire');
  }

  mailbox(userId: string): Promise<Record<string, unknown>> {
    return this.call('GET', `/mailboxes/${userId}`);
  }

  setMailbox(userId: string, settings: MailboxSettings): Promise<Record<string, unknown>> {
    return this.call('PUT', `/mailboxes/${userId}`, settings);
  }

  setUserPrivileges(userId: string, privileges: HeldPrivilege[]): Promise<HeldPrivilege[]> {
    return this.call('PUT', `/privileges/${userId}`, { privileges });
  }

  setUserTimeZone(userId: string, timezonecode: number): Promise<Record<string, unknown>> {
    return this.call('PUT', `/usersettings/${userId}`, { timezonecode });
  }

  async maxUploadFileSize(): Promise<number> {
    return (await this.call<{ maxuploadfilesize: number }>('GET', '/organization/email')).maxuploadfilesize;
  }

  async setMaxUploadFileSize(bytes: number): Promise<number> {
    return (await this.call<{ maxuploadfilesize: number }>('PUT', '/organization/email', { maxuploadfilesize: bytes })).maxuploadfilesize;
  }

  runRecurrenceExpansion(): Promise<{ created: number }> {
    return this.call('POST', '/recurrence/expand');
  }

  organizationSettings(): Promise<ExpansionSettings> {
    return this.call('GET', '/organization');
  }

  setOrganizationSettings(settings: Partial<ExpansionSettings>): Promise<ExpansionSettings> {
    return this.call('PUT', '/organization', settings);
  }
}
