// One small Dataverse Web API (v9.2) client over fetch: the sync needs only a handful of operations, each with
// the options server-side sync relies on: the `tag` that marks the sync's own writes (docs/reference/platform-facts.md section 5),
// If-Match / If-None-Match, client-chosen ids, impersonation of the syncing user (CallerObjectId), and
// Prefer: return=representation so a write also returns the new etag (one call per write).
import { SyncError } from '../errors.js';
import { isGuid } from '../guid.js';
import { errorForStatus, withRetry, type RetryPolicy } from '../http/retry.js';
import type { TokenProvider } from '../auth/tokens.js';
import { traceHttpDependency } from '../telemetry/index.js';
import type { DataverseBudget } from '../budget/dataverseBudget.js';
import { entitySetNames } from '../wire/dataverse.js';

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
}

export class DataverseApi {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly options: DataverseApiOptions) {
    this.base = `${options.url.replace(/\/+$/, '')}/api/data/v9.2`;
    this.fetchFn = options.fetch ?? fetch;
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

  private async request(kind: 'read' | 'write', method: string, route: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const url = path.startsWith('https://') ? path : `${this.base}/${path}`;
    return withRetry(async () => {
      this.options.onCall?.(kind, route);
      const slot = await this.options.budget?.acquire();
      try {
        return await this.send(slot?.tokens ?? this.options.tokens, slot?.clientId, method, route, url, body, headers);
      } finally {
        slot?.release();
      }
    }, this.options.retry);
  }

  private async send(tokens: TokenProvider, clientId: string | undefined, method: string, route: string, url: string, body: unknown, headers: Record<string, string>) {
    const token = await tokens(this.options.url);
    let res: Response;
    try {
      // One dependency span per attempt, named by the path template (never the URL: filters quote values).
      res = await traceHttpDependency(method, url, () => this.fetchFn(url, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json',
          'OData-MaxVersion': '4.0',
          'OData-Version': '4.0',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }), (r) => r.status);
    } catch (error) {
      throw new SyncError('Transient', `Dataverse ${route}: ${(error as Error).message}`, { cause: error });
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const error = errorForStatus(`Dataverse ${method} ${route}`, res.status, { code: typeof err?.code === 'string' ? err.code : undefined, requestId: res.headers.get('x-ms-service-request-id') }, res.headers.get('retry-after'));
      // Service protection: this application user's lane waits out the Retry-After (the others go on).
      if (error.code === 'Throttled' && clientId !== undefined) this.options.budget?.pause(clientId, error.retryAfterMs ?? 1_000);
      // Whose fault a disabled user or a missing privilege is depends on who the call acted as (errorPolicy.ts).
      const privilege = missingPrivilegeOf(error.serviceCode, err?.message);
      throw new SyncError(error.code, privilege ? `${error.message} (missing ${privilege})` : error.message, {
        ...(error.status === undefined ? {} : { status: error.status }),
        ...(error.serviceCode === undefined ? {} : { serviceCode: error.serviceCode }),
        ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
        ...(privilege ? { privilege } : {}),
        impersonated: headers.CallerObjectId !== undefined,
      });
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }
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
