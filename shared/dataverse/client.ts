// One small Dataverse Web API (v9.2) client over fetch: the sync needs only a handful of operations, each with
// the options server-side sync relies on: the `tag` that marks the sync's own writes (docs/reference/platform-facts.md section 5),
// If-Match / If-None-Match, client-chosen ids, impersonation of the syncing user (CallerObjectId), and
// Prefer: return=representation so a write also returns the new etag (one call per write).
import { randomUUID } from 'node:crypto';
import { SyncError } from '../errors.js';
import { isGuid } from '../guid.js';
import { errorForStatus, withRetry, type RetryPolicy } from '../http/retry.js';
import type { TokenProvider } from '../auth/tokens.js';
import { traceHttpDependency } from '../telemetry/index.js';
import type { DataverseBudget, DataverseSlot } from '../budget/dataverseBudget.js';
import { entitySetNames } from '../wire/dataverse.js';
import { batchRequestBody, parseBatchResponse } from './batch.js';

/** Marks every write of the sync; the webhook endpoint drops changes that carry it (the sync's own echo). */
export const syncTag = 'dataverse-exchange-sync';

/** Entity sets the client addresses: the tables of the wire schemas plus activityparty. */
export const entitySets = {
  appointment: entitySetNames.appointment,
  recurringappointmentmaster: entitySetNames.recurringappointmentmaster,
  task: entitySetNames.task,
  phonecall: entitySetNames.phonecall,
  letter: entitySetNames.letter,
  fax: entitySetNames.fax,
  contact: entitySetNames.contact,
  email: entitySetNames.email,
  systemuser: entitySetNames.systemuser,
  account: entitySetNames.account,
  lead: entitySetNames.lead,
  /** The user's mailbox row: its delivery methods say whether server-side synchronization syncs the user too. */
  mailbox: entitySetNames.mailbox,
  activitymimeattachment: entitySetNames.activitymimeattachment,
  organization: entitySetNames.organization,
  /** The user's own settings: timezonecode is the zone Dynamics 365 shows the user's times in. */
  usersettings: entitySetNames.usersettings,
  activityparty: 'activityparties',
} as const;
export type EntityName = keyof typeof entitySets;

export const primaryKeys: Record<EntityName, string> = {
  appointment: 'activityid',
  recurringappointmentmaster: 'activityid',
  task: 'activityid',
  phonecall: 'activityid',
  letter: 'activityid',
  fax: 'activityid',
  contact: 'contactid',
  email: 'activityid',
  systemuser: 'systemuserid',
  account: 'accountid',
  lead: 'leadid',
  mailbox: 'mailboxid',
  activitymimeattachment: 'activitymimeattachmentid',
  organization: 'organizationid',
  usersettings: 'systemuserid',
  activityparty: 'activitypartyid',
};

export type DataverseRecord = Record<string, unknown> & { '@odata.etag'?: string };

/** A change-tracking round: new or updated rows, ids of deleted rows, and the link for the next round. */
export interface ChangeRound {
  changed: DataverseRecord[];
  deleted: string[];
  deltaLink?: string;
}

export interface WriteOptions {
  /** Entra object id of the user to act as (records are owned as server-side sync does). */
  callerObjectId?: string | undefined;
  ifMatch?: string | undefined;
  /** Create only: fail with AlreadyExists when the record exists. */
  createOnly?: boolean;
}

export interface DataverseApiOptions {
  url: string;
  tokens: TokenProvider;
  retry?: RetryPolicy;
  onCall?: (kind: 'read' | 'write', route: string) => void;
  fetch?: typeof fetch;
  /** Paces every call against the application users' service protection budgets and spreads them over the users (shared/budget/). */
  budget?: DataverseBudget | undefined;
  /**
   * Most calls sent together as one $batch when they wait for the budget (SYNC_DATAVERSE_BATCH_MAX; 1 = never).
   * A batch is one request for the service protection request count
   * (https://learn.microsoft.com/power-apps/developer/data-platform/api-limits), so calls that would each wait for a
   * token of the budget share one. Default 20.
   */
  batchMax?: number;
}

/** One call as it would go alone. */
interface Call {
  method: string;
  route: string;
  url: string;
  body: unknown;
  headers: Record<string, string>;
}

/** What a call's answer is read from, alone or as a part of a batch. */
interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
}

type Answer = { status: number; body: unknown; headers: Headers };

interface Waiting {
  call: Call;
  resolve: (answer: Answer) => void;
  reject: (error: unknown) => void;
}

export class DataverseApi {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly batchMax: number;
  /** Calls waiting for the budget, oldest first: the next slot carries up to batchMax of them as one $batch. */
  private readonly waiting: Waiting[] = [];
  private pumping = false;

  constructor(private readonly options: DataverseApiOptions) {
    this.base = `${options.url.replace(/\/+$/, '')}/api/data/v9.2`;
    this.fetchFn = options.fetch ?? fetch;
    this.batchMax = Math.max(1, Math.min(1000, Math.floor(options.batchMax ?? 20)));
  }

  /** The caller's systemuserid (the application user). */
  async whoAmI(): Promise<{ UserId: string; BusinessUnitId: string; OrganizationId: string }> {
    return (await this.request('read', 'GET', 'WhoAmI', 'WhoAmI')).body as { UserId: string; BusinessUnitId: string; OrganizationId: string };
  }

  /**
   * The privileges a user holds through its roles and teams, each with its depth (Basic, Local, Deep, Global)
   * (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrieveuserprivileges).
   */
  async retrieveUserPrivileges(userId: string): Promise<{ name: string; depth: string }[]> {
    const res = await this.request('read', 'GET', 'RetrieveUserPrivileges', `systemusers(${guid(userId)})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`);
    const body = res.body as { RolePrivileges?: { PrivilegeName?: unknown; Depth?: unknown }[] };
    return (body.RolePrivileges ?? []).flatMap((p) => (typeof p.PrivilegeName === 'string' && typeof p.Depth === 'string' ? [{ name: p.PrivilegeName, depth: p.Depth }] : []));
  }

  /** A record, or undefined when it does not exist. */
  async get(entity: EntityName, id: string, query: { select?: string[]; expand?: string; lookupTables?: boolean } = {}): Promise<DataverseRecord | undefined> {
    const params = new URLSearchParams();
    if (query.select) params.set('$select', query.select.join(','));
    if (query.expand) params.set('$expand', query.expand);
    try {
      const res = await this.request('read', 'GET', entitySets[entity], `${entitySets[entity]}(${guid(id)})${params.size ? `?${params.toString()}` : ''}`, undefined, query.lookupTables ? { Prefer: lookupTablesPrefer } : {});
      return res.body as DataverseRecord;
    } catch (error) {
      if (error instanceof SyncError && error.code === 'NotFound') return undefined;
      throw error;
    }
  }

  /** Records matching an OData filter (all pages). */
  async query(entity: EntityName, query: { filter?: string; select?: string[]; expand?: string; top?: number; orderby?: string; lookupTables?: boolean; callerObjectId?: string }): Promise<DataverseRecord[]> {
    const params = new URLSearchParams();
    if (query.filter) params.set('$filter', query.filter);
    if (query.select) params.set('$select', query.select.join(','));
    if (query.expand) params.set('$expand', query.expand);
    if (query.top) params.set('$top', String(query.top));
    if (query.orderby) params.set('$orderby', query.orderby);
    const out: DataverseRecord[] = [];
    let next: string | undefined = `${entitySets[entity]}?${params.toString()}`;
    while (next) {
      const res = await this.request('read', 'GET', entitySets[entity], next, undefined, { Prefer: query.lookupTables ? `odata.maxpagesize=500, ${lookupTablesPrefer}` : 'odata.maxpagesize=500', ...impersonation(query) });
      const page = res.body as { value: DataverseRecord[]; '@odata.nextLink'?: string };
      out.push(...page.value);
      next = page['@odata.nextLink'];
    }
    return out;
  }

  /**
   * One change-tracking round of a table (PAD use-change-tracking-synchronize-data-external-systems.md; docs/reference/platform-facts.md
   * section 6): the first call takes `select` (only $select is allowed with track-changes), later calls the stored
   * deltaLink. Returns changed rows, deleted ids and the next deltaLink. An expired token (ExpiredVersionStamp,
   * 0x80044352) is TokenExpired: the caller starts a full round.
   */
  async trackChanges(entity: EntityName, from: { select: string[] } | { link: string }): Promise<ChangeRound> {
    const prefer = { Prefer: 'odata.track-changes, odata.maxpagesize=500' };
    const round: ChangeRound = { changed: [], deleted: [] };
    let next: string | undefined = 'link' in from ? from.link : `${entitySets[entity]}?$select=${from.select.join(',')}`;
    while (next) {
      // An expired token (ExpiredVersionStamp, 0x80044352) comes back as TokenExpired: the caller starts a full round.
      const res = await this.request('read', 'GET', `${entitySets[entity]}/delta`, next, undefined, prefer);
      const page = res.body as { value: DataverseRecord[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string };
      for (const row of page.value) {
        if (typeof row['@odata.context'] === 'string' && row['@odata.context'].endsWith('$deletedEntity')) {
          if (typeof row.id === 'string') round.deleted.push(row.id.toLowerCase());
        } else {
          round.changed.push(row);
        }
      }
      if (page['@odata.deltaLink']) {
        round.deltaLink = page['@odata.deltaLink'];
        break;
      }
      next = page['@odata.nextLink'];
    }
    return round;
  }

  /** Creates a record with a client-chosen id; returns it with its etag. AlreadyExists when it exists already. */
  async create(entity: EntityName, id: string, body: Record<string, unknown>, options: WriteOptions = {}): Promise<DataverseRecord> {
    const res = await this.request('write', 'POST', entitySets[entity], `${entitySets[entity]}?tag=${syncTag}`, { ...body, [primaryKeys[entity]]: guid(id) }, {
      Prefer: 'return=representation',
      ...impersonation(options),
    });
    return res.body as DataverseRecord;
  }

  /**
   * Updates a record (PATCH), conditional on `ifMatch` when given; returns it with its new etag. With no
   * ifMatch and createOnly unset, PATCH is an upsert.
   */
  async update(entity: EntityName, id: string, body: Record<string, unknown>, options: WriteOptions = {}): Promise<DataverseRecord> {
    const headers: Record<string, string> = { Prefer: 'return=representation', ...impersonation(options) };
    if (options.ifMatch) headers['If-Match'] = options.ifMatch;
    if (options.createOnly) headers['If-None-Match'] = '*';
    const res = await this.request('write', 'PATCH', entitySets[entity], `${entitySets[entity]}(${guid(id)})?tag=${syncTag}`, body, headers);
    return res.body as DataverseRecord;
  }

  /**
   * AddRecurrence (bound to appointment): "the data from the existing appointment is copied to a new recurring
   * appointment master instance and the existing appointment is deleted"
   * (https://learn.microsoft.com/power-apps/developer/data-platform/create-recurring-appointment-series-instance-exception).
   * `target` is the recurringappointmentmaster with the recurrence information (and the id the series gets).
   */
  async addRecurrence(appointmentId: string, target: Record<string, unknown>, options: WriteOptions = {}): Promise<void> {
    await this.request('write', 'POST', 'appointments/AddRecurrence', `${entitySets.appointment}(${guid(appointmentId)})/Microsoft.Dynamics.CRM.AddRecurrence?tag=${syncTag}`, {
      Target: { '@odata.type': 'Microsoft.Dynamics.CRM.recurringappointmentmaster', ...target },
    }, impersonation(options));
  }

  /** Deletes a record; "already gone" counts as done. */
  async delete(entity: EntityName, id: string, options: WriteOptions = {}): Promise<void> {
    try {
      await this.request('write', 'DELETE', entitySets[entity], `${entitySets[entity]}(${guid(id)})?tag=${syncTag}`, undefined, {
        ...impersonation(options),
        ...(options.ifMatch ? { 'If-Match': options.ifMatch } : {}),
      });
    } catch (error) {
      if (error instanceof SyncError && error.code === 'NotFound') return;
      throw error;
    }
  }

  /** Raw request for setup tooling (service endpoints, steps). */
  async raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: Headers }> {
    return this.request(method === 'GET' ? 'read' : 'write', method, path.split(/[?(]/)[0] ?? path, path, body, headers);
  }

  private async request(kind: 'read' | 'write', method: string, route: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const url = path.startsWith('https://') ? path : `${this.base}/${path}`;
    return withRetry(async () => {
      this.options.onCall?.(kind, route);
      return this.dispatch({ method, route, url, body, headers });
    }, this.options.retry);
  }

  /**
   * Sends one attempt of a call: alone when the budget has a slot now (no added latency) or when it waits only for a
   * slot to free up (concurrency), else in the queue of calls waiting for request tokens, which go out together as
   * one $batch with the next token. Only calls that are waiting at the same time share a batch, and a caller has one
   * call outstanding at a time, so the writes of one change keep their order (each is sent after the previous one
   * answered).
   */
  private async dispatch(call: Call): Promise<Answer> {
    const budget = this.options.budget;
    if (!budget) return this.sendAlone(this.options.tokens, undefined, call);
    let slot: DataverseSlot | undefined;
    if (this.batchMax <= 1) slot = await budget.acquire();
    else if (this.waiting.length === 0) {
      const now = budget.tryAcquire();
      // Measured (dev/bench/limits.ts, "dv batch"): where only concurrency binds, batching cut throughput by a fifth,
      // a batch holding its slot for all of its parts; it pays where the request tokens run out.
      slot = 'slot' in now ? now.slot : now.waitFor === 'concurrency' ? await budget.acquire() : undefined;
    }
    if (slot) {
      try {
        return await this.sendAlone(slot.tokens, slot.clientId, call);
      } finally {
        slot.release();
      }
    }
    return new Promise<Answer>((resolve, reject) => {
      this.waiting.push({ call, resolve, reject });
      void this.pump(budget);
    });
  }

  /** While calls wait: takes the next slot and hands it up to batchMax of them, without waiting for their answer. */
  private async pump(budget: DataverseBudget): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.waiting.length > 0) {
        let slot: DataverseSlot;
        try {
          slot = await budget.acquire();
        } catch (error) {
          // The budget's wait ran out: each waiting call fails as it would have alone (Throttled, retried later).
          for (const w of this.waiting.splice(0)) w.reject(error);
          break;
        }
        void this.sendGroup(slot, this.waiting.splice(0, this.batchMax));
      }
    } finally {
      this.pumping = false;
    }
  }

  private async sendGroup(slot: DataverseSlot, group: Waiting[]): Promise<void> {
    try {
      if (group.length === 1) {
        const only = group[0]!;
        await this.sendAlone(slot.tokens, slot.clientId, only.call).then(only.resolve, only.reject);
        return;
      }
      // A line break in a header value or URL would corrupt its part (an etag or id that came from elsewhere): such a
      // call fails as it fails alone, where fetch refuses the header (Transient), and the others still share the batch.
      const fit: Waiting[] = [];
      for (const w of group) {
        if (fitsInBatch(w.call)) fit.push(w);
        else w.reject(new SyncError('Transient', `Dataverse ${w.call.route}: a header value or the URL has a line break`));
      }
      if (fit.length === 0) return;
      const outcomes = await this.sendBatch(slot, fit.map((w) => w.call));
      outcomes.forEach((outcome, i) => ('error' in outcome ? fit[i]!.reject(outcome.error) : fit[i]!.resolve(outcome.answer)));
    } catch (error) {
      for (const w of group) w.reject(error);
    } finally {
      slot.release();
    }
  }

  private async sendAlone(tokens: TokenProvider, clientId: string | undefined, call: Call): Promise<Answer> {
    const token = await tokens(this.options.url);
    let res: Response;
    try {
      // One dependency span per attempt, named by the path template (never the URL: filters quote values).
      res = await traceHttpDependency(call.method, call.url, () => this.fetchFn(call.url, {
        method: call.method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...partHeaders(call),
          'OData-MaxVersion': '4.0',
          'OData-Version': '4.0',
        },
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      }), (r) => r.status);
    } catch (error) {
      throw new SyncError('Transient', `Dataverse ${call.route}: ${(error as Error).message}`, { cause: error });
    }
    return this.answer(call, clientId, { status: res.status, headers: res.headers, text: await res.text() });
  }

  /**
   * Sends calls as one $batch with `Prefer: odata.continue-on-error`, so each part is answered as the call alone would
   * have been (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api).
   * Each caller gets its own outcome: its part's status, headers and error; the batch's own failure (a transport
   * error, a 429 or 5xx for the whole batch) as its own; and for an answer that is not one well-formed part per call
   * (malformed, short, or stopped at a failed part), a Transient error, never a success nobody confirmed.
   */
  private async sendBatch(slot: DataverseSlot, calls: readonly Call[]): Promise<Array<{ answer: Answer } | { error: unknown }>> {
    const outcome = (call: Call, raw: RawAnswer) => {
      try {
        return { answer: this.answer(call, slot.clientId, raw) };
      } catch (error) {
        return { error };
      }
    };
    const token = await slot.tokens(this.options.url);
    const boundary = `batch_${randomUUID()}`;
    const url = `${this.base}/$batch`;
    const body = batchRequestBody(boundary, calls.map((c) => ({ method: c.method, target: targetOf(c.url), headers: partHeaders(c), body: c.body === undefined ? undefined : JSON.stringify(c.body) })));
    let raw: RawAnswer;
    try {
      const res = await traceHttpDependency('POST', url, () => this.fetchFn(url, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json',
          'OData-MaxVersion': '4.0',
          'OData-Version': '4.0',
          'Content-Type': `multipart/mixed; boundary=${boundary}`,
          Prefer: 'odata.continue-on-error',
        },
        body,
      }), (r) => r.status);
      raw = { status: res.status, headers: res.headers, text: await res.text() };
    } catch (error) {
      return calls.map((c) => ({ error: new SyncError('Transient', `Dataverse ${c.route} (in a $batch): ${(error as Error).message}`, { cause: error }) }));
    }
    const parts = parseBatchResponse(raw.headers.get('content-type'), raw.text);
    if (!parts) {
      // Not a batch answer: the batch failed as one request (429, 5xx, 401), and each caller hears that answer as its
      // own. A 2xx or a client error that is not a well-formed batch answer confirms nothing: Transient for each.
      if (raw.status === 429 || raw.status >= 500 || raw.status === 401 || raw.status === 403) return calls.map((c) => outcome(c, raw));
      return calls.map((c) => ({ error: new SyncError('Transient', `Dataverse ${c.route} (in a $batch): the batch answered ${raw.status} without a well-formed multipart body`, { status: raw.status }) }));
    }
    if (parts.length !== calls.length) {
      return calls.map((c) => ({ error: new SyncError('Transient', `Dataverse ${c.route} (in a $batch): the batch answered ${parts.length} parts for ${calls.length} requests`, { status: raw.status }) }));
    }
    return calls.map((c, i) => outcome(c, parts[i]!));
  }

  /** A call's answer read as the product reads every Dataverse answer: the body, or the error of the closed set. */
  private answer(call: Call, clientId: string | undefined, raw: RawAnswer): Answer {
    let parsed: unknown = undefined;
    if (raw.text) {
      try {
        parsed = JSON.parse(raw.text);
      } catch {
        parsed = raw.text;
      }
    }
    if (raw.status < 200 || raw.status > 299) {
      const err = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const error = errorForStatus(`Dataverse ${call.method} ${call.route}`, raw.status, { code: typeof err?.code === 'string' ? err.code : undefined, requestId: raw.headers.get('x-ms-service-request-id') }, raw.headers.get('retry-after'));
      // Service protection: this application user's lane waits out the Retry-After (the others go on).
      if (error.code === 'Throttled' && clientId !== undefined) this.options.budget?.pause(clientId, error.retryAfterMs ?? 1_000);
      // Whose fault a disabled user or a missing privilege is depends on who the call acted as (errorPolicy.ts).
      const privilege = missingPrivilegeOf(error.serviceCode, err?.message);
      throw new SyncError(error.code, privilege ? `${error.message} (missing ${privilege})` : error.message, {
        ...(error.status === undefined ? {} : { status: error.status }),
        ...(error.serviceCode === undefined ? {} : { serviceCode: error.serviceCode }),
        ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
        ...(privilege ? { privilege } : {}),
        impersonated: call.headers.CallerObjectId !== undefined,
      });
    }
    return { status: raw.status, body: parsed, headers: raw.headers };
  }
}

/** The headers a call carries, alone or as a part of a batch (authorization and OData versions are the request's). */
function partHeaders(call: Call): Record<string, string> {
  return {
    Accept: 'application/json',
    ...(call.body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
    ...call.headers,
  };
}

/** Whether a call can be written as a part: no line break in its URL or header values (they delimit the part). */
function fitsInBatch(call: Call): boolean {
  return ![call.url, ...Object.keys(call.headers), ...Object.values(call.headers)].some((v) => /[\r\n]/.test(v));
}

/** A part's request target: the URL from the root, as in the documented batch requests. */
function targetOf(url: string): string {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}

/**
 * The privilege a PrivilegeDenied (0x80040220) answer names: its message reads "Principal user (Id=..., type=8) is
 * missing prvCreateActivity privilege (Id=...)" (KB 4015092; web-service-error-codes lists the code). Only the
 * privilege's name is kept, never the rest of the message (house rule: messages can quote values).
 */
export function missingPrivilegeOf(serviceCode: string | undefined, message: unknown): string | undefined {
  if (serviceCode?.toLowerCase() !== '0x80040220' || typeof message !== 'string') return undefined;
  return /\bis missing (prv[A-Za-z]{1,100}) privilege\b/.exec(message)?.[1];
}

/**
 * Asks for the table each lookup points at (`<lookup>@Microsoft.Dynamics.CRM.lookuplogicalname`): a polymorphic
 * lookup such as regardingobjectid gives only an id otherwise
 * (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns#formatted-values).
 */
const lookupTablesPrefer = 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"';

function impersonation(options: WriteOptions): Record<string, string> {
  return options.callerObjectId ? { CallerObjectId: options.callerObjectId } : {};
}

function guid(id: string): string {
  if (!isGuid(id)) {
    throw new SyncError('InvalidInput', `Dataverse id ${JSON.stringify(id)} is not a GUID`, { field: 'id', value: id });
  }
  return id.toLowerCase();
}
