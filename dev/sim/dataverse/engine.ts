// The record engine: create, update (with upsert and conditions), delete and query over the in-memory store, applying
// Dataverse's rules (state/status pairs, closed activities read-only, computed columns, activity parties, audit
// columns, row versions) and reporting each write as platform events for the webhook dispatcher.
import { DataverseError, ErrorCodes, badValue, notFound } from './errors.js';
import { conjuncts, equalityOf, matches, sortRows, type EvalContext, type FilterNode, type OrderBy } from './odata.js';
import type { IdSource } from './prng.js';
import { entityByLogicalName, entityBySet, stateOfStatus, stateOption, type Column, type EntityDef } from './schema.js';
import { isLookup, text, type LookupRef, type Row, type Store, type Value } from './store.js';
import { formatDateTime, isGuid, toStoredValue } from './values.js';

/** Who a write is made by. */
export interface Caller {
  /** The systemuser the request authenticated as (the application user, or a person acting through the admin API). */
  authenticatedUserId: string;
  /** The systemuser the operation runs as: the impersonated user (CallerObjectId / MSCRMCallerID), else the same. */
  userId: string;
  /** The `tag` optional parameter of the request (PAD optional-parameters.md). */
  tag: string | undefined;
  correlationId: string;
}

export type Message = 'Create' | 'Update' | 'Delete' | 'SetState' | 'AddRecurrence' | 'DeleteOpenInstances' | 'SendEmail';

export interface Snapshot {
  row: Row;
  parties: Row[];
}

/** One platform event (a message processed for one record) that steps can be registered on. */
export interface WriteEvent {
  message: Message;
  def: EntityDef;
  id: string;
  /** Logical names the request carried (an Update step's filtering attributes are matched against these). */
  sent: string[];
  /** Target attributes: stored values, party-list columns as party rows. */
  target: Map<string, Value | Row[]>;
  pre: Snapshot | undefined;
  post: Snapshot | undefined;
  caller: Caller;
  operationCreatedOn: number;
  /** Message-specific InputParameters/OutputParameters besides Target (the series actions, series.ts). */
  extra?: { input?: Record<string, Value>; output?: Record<string, Value>; withoutTarget?: boolean };
}

/**
 * Platform behaviour layered on the generic engine (the recurring-appointment series, series.ts): `validate` may
 * refuse a row before anything is written; the `after*` hooks run once the write is stored and its events raised.
 */
export interface EngineHooks {
  validate?(def: EntityDef, row: Row, before: Row | undefined): void;
  /** Runs once an activity's party rows are written, before the row is stored (columns computed from parties). */
  partiesWritten?(def: EntityDef, row: Row, parties: Row[], sent: string[]): void;
  afterCreate?(def: EntityDef, row: Row, caller: Caller, options: WriteOptions): void;
  afterUpdate?(def: EntityDef, before: Row, after: Row, sent: string[], caller: Caller, options: WriteOptions): void;
  afterRemove?(def: EntityDef, before: Row, caller: Caller, options: WriteOptions): void;
}

interface PartyInput {
  mask: number;
  party: LookupRef | null;
  addressused: string | null;
}

interface ParsedWrite {
  values: Map<string, Value>;
  parties: PartyInput[] | undefined;
  sent: string[];
}

export interface EngineOptions {
  store: Store;
  ids: IdSource;
  now: () => number;
  businessUnitId: string;
  onEvent: (e: WriteEvent) => void;
}

export interface WriteOptions {
  /** Raise platform events (webhooks); seeding turns this off. */
  emit?: boolean;
  /** Values the platform itself sets (read-only for callers), applied after the body is parsed. */
  system?: Row;
  /** Skip the hooks (the platform's own follow-up writes). */
  noHooks?: boolean;
}

const STATE_COLUMNS = new Set(['statecode', 'statuscode']);

interface Candidates {
  size: number;
  ids: () => Iterable<string>;
}

/** An activity is read-only once completed or canceled (letter.md/fax.md StateCode description); Scheduled is open. */
function isClosedActivity(def: EntityDef, row: Row): boolean {
  if (!def.activity) return false;
  const state = row['statecode'];
  return state === 1 || state === 2;
}

function etagOf(row: Row): string {
  return `W/"${text(row['versionnumber'])}"`;
}

/** True when an If-Match value names the row's current version. */
function etagMatches(header: string, row: Row): boolean {
  return header
    .split(',')
    .map((s) => s.trim())
    .some((tag) => tag === '*' || tag === etagOf(row) || tag === `"${text(row['versionnumber'])}"`);
}

export class Engine {
  private readonly store: Store;
  private readonly ids: IdSource;
  private readonly now: () => number;
  private readonly businessUnitId: string;
  private readonly onEvent: (e: WriteEvent) => void;
  private hooks: EngineHooks = {};

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.ids = options.ids;
    this.now = options.now;
    this.businessUnitId = options.businessUnitId;
    this.onEvent = options.onEvent;
  }

  /** Installs the platform hooks (set once, after construction, as they need the engine themselves). */
  setHooks(hooks: EngineHooks): void {
    this.hooks = hooks;
  }

  /** Raises a platform event that is not a plain create/update/delete (the series actions). */
  raise(event: WriteEvent): void {
    this.onEvent(event);
  }

  get(def: EntityDef, id: string): Row | undefined {
    return this.store.table(def.logicalName).get(id);
  }

  /** The party rows of an activity. */
  partiesOf(activityId: string): Row[] {
    const parties = this.store.table('activityparty');
    const ids = parties.idsWhere('activityid', { id: activityId, logicalName: '' }) ?? new Set<string>();
    const out: Row[] = [];
    for (const id of ids) {
      const row = parties.get(id);
      if (row) out.push(row);
    }
    return out;
  }

  readonly evalContext: EvalContext = { parties: (activityId) => this.partiesOf(activityId) };

  /** Rows matching a filter, using an index when a top-level conjunct allows it; without an order, stops at `limit`. */
  query(def: EntityDef, filter: FilterNode | undefined, orderBy: OrderBy[], limit = Infinity): Row[] {
    const table = this.store.table(def.logicalName);
    let candidates: Candidates | undefined;
    for (const c of filter ? conjuncts(filter) : []) {
      const found = this.candidatesFor(def, c);
      if (found && (!candidates || found.size < candidates.size)) candidates = found;
    }
    const out: Row[] = [];
    const stopAt = orderBy.length ? Infinity : limit;
    const consider = (row: Row | undefined) => {
      if (row && (!filter || matches(filter, row, this.evalContext))) out.push(row);
      return out.length >= stopAt;
    };
    if (candidates) {
      for (const id of candidates.ids()) if (consider(table.get(id))) break;
    } else {
      for (const row of table.rows.values()) if (consider(row)) break;
    }
    sortRows(out, orderBy);
    return out;
  }

  /** Ids an index offers for one conjunct (an upper bound on the matches), read lazily so a $top stops early. */
  private candidatesFor(def: EntityDef, node: FilterNode): Candidates | undefined {
    const table = this.store.table(def.logicalName);
    const eq = equalityOf(node);
    if (eq && !eq.scope) {
      if (eq.column.name === def.primaryId && typeof eq.value === 'string') {
        const ids = table.get(eq.value) ? [eq.value.toLowerCase()] : [];
        return { size: ids.length, ids: () => ids };
      }
      if (table.hasIndex(eq.column.name)) {
        const v: Value = eq.column.type === 'lookup' && typeof eq.value === 'string' ? { id: eq.value, logicalName: '' } : eq.value;
        const ids = table.idsWhere(eq.column.name, v) ?? new Set<string>();
        return { size: ids.size, ids: () => ids };
      }
    }
    if (node.k === 'any') {
      // `parties/any(p: p/_partyid_value eq X ...)`: activities that have a party row for X.
      for (const c of conjuncts(node.body)) {
        const inner = equalityOf(c);
        if (inner?.scope === node.variable && inner.column.name === 'partyid' && typeof inner.value === 'string') {
          const parties = this.store.table('activityparty');
          const partyIds = parties.idsWhere('partyid', { id: inner.value, logicalName: '' }) ?? new Set<string>();
          return {
            size: partyIds.size,
            ids: function* () {
              const seen = new Set<string>();
              for (const pid of partyIds) {
                const activity = parties.get(pid)?.['activityid'];
                if (isLookup(activity) && activity.logicalName === def.logicalName && !seen.has(activity.id)) {
                  seen.add(activity.id);
                  yield activity.id;
                }
              }
            },
          };
        }
      }
    }
    return undefined;
  }

  /** Creates a record from a Web API body. */
  create(def: EntityDef, body: unknown, caller: Caller, options: WriteOptions & { id?: string } = {}): Row {
    this.assertWritable(def);
    const parsed = this.parseWrite(def, body, 'create');
    const table = this.store.table(def.logicalName);
    const givenId = parsed.values.get(def.primaryId);
    const id = (typeof givenId === 'string' ? givenId : options.id ?? this.ids.guid()).toLowerCase();
    if (options.id && typeof givenId === 'string' && givenId !== options.id.toLowerCase()) {
      throw badValue(`The ${def.primaryId} in the body (${givenId}) differs from the key in the URL (${options.id}).`);
    }
    if (table.get(id)) {
      throw new DataverseError(412, ErrorCodes.DuplicateRecord, `A record with matching key values already exists (${def.logicalName} ${id}). Cannot insert duplicate key.`);
    }
    const now = formatDateTime(this.now());
    const row: Row = {};
    for (const c of def.columns.values()) if (c.defaultValue !== undefined) row[c.name] = c.defaultValue;
    row[def.primaryId] = id;
    for (const [k, v] of parsed.values) row[k] = v;
    for (const [k, v] of Object.entries(options.system ?? {})) row[k] = v;
    this.applyCreateState(def, row, parsed, id);
    const user: LookupRef = { id: caller.userId, logicalName: 'systemuser' };
    const onBehalf: LookupRef | null = caller.userId !== caller.authenticatedUserId ? { id: caller.authenticatedUserId, logicalName: 'systemuser' } : null;
    if (def.columns.has('createdon')) {
      row['createdon'] = now;
      row['modifiedon'] = now;
      row['createdby'] = user;
      row['modifiedby'] = user;
      row['createdonbehalfby'] = onBehalf;
      row['modifiedonbehalfby'] = onBehalf;
    }
    if (def.ownership === 'user') {
      if (!isLookup(row['ownerid'])) row['ownerid'] = user;
      row['owningbusinessunit'] = { id: this.businessUnitId, logicalName: 'businessunit' };
    }
    if (def.activity) row['activitytypecode'] = def.logicalName;
    this.computeColumns(def, row, undefined);
    this.validateRow(def, row, undefined);
    if (!options.noHooks) this.hooks.validate?.(def, row, undefined);
    const version = this.store.nextVersion();
    row['versionnumber'] = version;
    let parties: Row[] = [];
    if (def.activity) parties = this.writeParties(def, row, parsed.parties ?? [], version, true);
    if (def.activity && !options.noHooks) this.hooks.partiesWritten?.(def, row, parties, parsed.sent);
    table.put(row, version);
    if (options.emit !== false) {
      const target = new Map<string, Value | Row[]>();
      for (const [k, v] of Object.entries(row)) if (v !== null) target.set(k, v);
      this.addPartyColumns(def, target, parties, false);
      this.onEvent({
        message: 'Create',
        def,
        id,
        sent: [...target.keys()],
        target,
        pre: undefined,
        post: { row: { ...row }, parties },
        caller,
        operationCreatedOn: this.now(),
      });
    }
    if (!options.noHooks) this.hooks.afterCreate?.(def, row, caller, options);
    return table.get(id) ?? row;
  }

  /** Updates (or, for an upsert, creates) a record; `ifMatch` / `ifNoneMatch` are the request's conditional headers. */
  update(
    def: EntityDef,
    id: string,
    body: unknown,
    caller: Caller,
    options: WriteOptions & { upsert?: boolean; ifMatch?: string | undefined; ifNoneMatch?: string | undefined } = {},
  ): { row: Row; created: boolean } {
    this.assertWritable(def);
    const key = id.toLowerCase();
    const table = this.store.table(def.logicalName);
    const current = table.get(key);
    // PAD webapi/perform-conditional-operations-using-web-api.md: If-None-Match: * prevents an update; If-Match: * prevents a create.
    if (options.ifNoneMatch?.trim() === '*') {
      if (current) throw new DataverseError(412, ErrorCodes.DuplicateRecord, `A record with matching key values already exists (${def.logicalName} ${key}).`);
      return { row: this.create(def, body, caller, { ...options, id: key }), created: true };
    }
    if (!current) {
      if (options.ifMatch !== undefined || !options.upsert) throw notFound(def.logicalName, key);
      return { row: this.create(def, body, caller, { ...options, id: key }), created: true };
    }
    if (options.ifMatch !== undefined && !etagMatches(options.ifMatch, current)) {
      throw new DataverseError(412, ErrorCodes.ConcurrencyVersionMismatch, "The version of the existing record doesn't match the RowVersion property provided.");
    }
    const parsed = this.parseWrite(def, body, 'update');
    const pk = parsed.values.get(def.primaryId);
    if (pk !== undefined && pk !== key) throw badValue(`The ${def.primaryId} in the body (${text(pk)}) differs from the key in the URL (${key}).`);
    parsed.values.delete(def.primaryId);
    const otherSent = parsed.sent.filter((n) => !STATE_COLUMNS.has(n) && n !== def.primaryId);
    const stateSent = parsed.values.has('statecode') || parsed.values.has('statuscode');
    if (isClosedActivity(def, current) && (otherSent.length > 0 || parsed.parties !== undefined)) {
      throw new DataverseError(400, ErrorCodes.ReadOnlyObject, `The object cannot be updated because it is read-only (${def.logicalName} ${key} is ${stateOption(def, Number(current['statecode']))?.label ?? 'closed'}; reopen it with statecode first).`);
    }
    const oldParties = def.activity ? this.partiesOf(key) : [];
    const pre: Snapshot = { row: { ...current }, parties: oldParties };
    const now = formatDateTime(this.now());
    const user: LookupRef = { id: caller.userId, logicalName: 'systemuser' };
    const onBehalf: LookupRef | null = caller.userId !== caller.authenticatedUserId ? { id: caller.authenticatedUserId, logicalName: 'systemuser' } : null;
    const audit: Row = def.columns.has('modifiedon') ? { modifiedon: now, modifiedby: user, modifiedonbehalfby: onBehalf } : {};

    // Non-state columns first, then state (special-update-operation-behavior.md: Update runs once for each part).
    const rowA: Row = { ...current, ...audit };
    for (const [k, v] of parsed.values) if (!STATE_COLUMNS.has(k)) rowA[k] = v;
    for (const [k, v] of Object.entries(options.system ?? {})) rowA[k] = v;
    this.computeColumns(def, rowA, current);
    const rowB: Row = { ...rowA };
    const stateChanges: string[] = [];
    if (stateSent) {
      this.applyStateChange(def, rowB, parsed.values, key);
      stateChanges.push('statecode', 'statuscode');
      if (def.activity && isClosedActivity(def, rowB) && !isClosedActivity(def, current) && (rowB['actualend'] === null || rowB['actualend'] === undefined)) {
        // "By default, it displays the date and time when the activity was completed or canceled" (letter.md ActualEnd).
        rowB['actualend'] = now;
        stateChanges.push('actualend');
      }
    }
    this.validateRow(def, rowB, current);
    if (!options.noHooks) this.hooks.validate?.(def, rowB, current);
    const version = this.store.nextVersion();
    rowA['versionnumber'] = version;
    rowB['versionnumber'] = version;
    let newParties = oldParties;
    if (def.activity && (parsed.parties !== undefined || rowB['ownerid'] !== current['ownerid'] || rowB['regardingobjectid'] !== current['regardingobjectid'])) {
      newParties = this.writeParties(def, rowB, parsed.parties, version, false);
      if (parsed.parties !== undefined && !options.noHooks) {
        this.hooks.partiesWritten?.(def, rowB, newParties, parsed.sent);
        for (const k of Object.keys(rowB)) if (!STATE_COLUMNS.has(k) && k !== 'actualend') rowA[k] = rowB[k]!;
      }
    }
    table.put(rowB, version);
    if (options.emit !== false) {
      const op = this.now();
      const postA: Snapshot = { row: { ...rowA }, parties: newParties };
      if (otherSent.length > 0 || parsed.parties !== undefined || !stateSent) {
        const target = new Map<string, Value | Row[]>([[def.primaryId, key]]);
        for (const n of otherSent) target.set(n, rowA[n] ?? null);
        for (const [k, v] of Object.entries(audit)) target.set(k, v);
        if (def.logicalName === 'contact' && otherSent.some((n) => n === 'firstname' || n === 'lastname' || n === 'middlename')) target.set('fullname', rowA['fullname'] ?? null);
        if (parsed.parties !== undefined) this.addPartyColumns(def, target, newParties, true);
        const sent = [...otherSent, ...this.partyColumnNames(def, parsed.parties)];
        this.onEvent({ message: 'Update', def, id: key, sent, target, pre, post: postA, caller, operationCreatedOn: op });
      }
      if (stateSent) {
        const postB: Snapshot = { row: { ...rowB }, parties: newParties };
        const target = new Map<string, Value | Row[]>([[def.primaryId, key]]);
        for (const n of stateChanges) target.set(n, rowB[n] ?? null);
        for (const [k, v] of Object.entries(audit)) target.set(k, v);
        this.onEvent({ message: 'Update', def, id: key, sent: stateChanges, target, pre: postA, post: postB, caller, operationCreatedOn: op });
        this.onEvent({ message: 'SetState', def, id: key, sent: stateChanges, target, pre: postA, post: postB, caller, operationCreatedOn: op });
      }
    }
    if (!options.noHooks) this.hooks.afterUpdate?.(def, current, rowB, [...parsed.sent, ...this.partyColumnNames(def, parsed.parties)], caller, options);
    return { row: table.get(key) ?? rowB, created: false };
  }

  /** Deletes a record (and its parties). */
  remove(def: EntityDef, id: string, caller: Caller, options: WriteOptions & { ifMatch?: string | undefined } = {}): void {
    this.assertWritable(def);
    const key = id.toLowerCase();
    const table = this.store.table(def.logicalName);
    const current = table.get(key);
    if (!current) throw notFound(def.logicalName, key);
    if (options.ifMatch !== undefined && !etagMatches(options.ifMatch, current)) {
      throw new DataverseError(412, ErrorCodes.ConcurrencyVersionMismatch, "The version of the existing record doesn't match the RowVersion property provided.");
    }
    const parties = def.activity ? this.partiesOf(key) : [];
    const version = this.store.nextVersion();
    const partyTable = this.store.table('activityparty');
    for (const p of parties) partyTable.remove(text(p['activitypartyid']), version);
    table.remove(key, version);
    if (def.logicalName === 'sdkmessageprocessingstep') {
      // Images belong to their step (cascade delete).
      const images = this.store.table('sdkmessageprocessingstepimage');
      for (const imageId of [...(images.idsWhere('sdkmessageprocessingstepid', { id: key, logicalName: '' }) ?? [])]) images.remove(imageId, version);
    }
    if (options.emit !== false) {
      this.onEvent({
        message: 'Delete',
        def,
        id: key,
        sent: [],
        target: new Map(),
        pre: { row: { ...current }, parties },
        post: undefined,
        caller,
        operationCreatedOn: this.now(),
      });
    }
    if (!options.noHooks) this.hooks.afterRemove?.(def, current, caller, options);
  }

  private assertWritable(def: EntityDef): void {
    if (!def.writable) {
      throw new DataverseError(405, ErrorCodes.ODataNotSupported, `The simulator does not support writes to '${def.setName}' (read-only here).`);
    }
  }

  /** Parses and validates a Web API write body. */
  private parseWrite(def: EntityDef, body: unknown, mode: 'create' | 'update'): ParsedWrite {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badValue('The request body must be a JSON object.');
    const values = new Map<string, Value>();
    let parties: PartyInput[] | undefined;
    const sent: string[] = [];
    for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
      if (key.endsWith('@odata.bind')) {
        const nav = key.slice(0, -'@odata.bind'.length);
        const bind = def.binds.get(nav);
        if (!bind) {
          throw new DataverseError(400, ErrorCodes.ODataResourceNotFound, `An undeclared property '${nav}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.`);
        }
        values.set(bind.column, raw === null ? null : this.resolveBind(raw, bind.target, key));
        sent.push(bind.column);
        continue;
      }
      if (key.includes('@')) continue; // other instance annotations (e.g. @odata.type) carry no data
      if (def.activity && key === def.activity.partyNav) {
        parties = this.parseParties(def, raw);
        continue;
      }
      const column = def.columns.get(key);
      if (!column) {
        throw new DataverseError(400, ErrorCodes.ODataResourceNotFound, `The property '${key}' does not exist on type 'Microsoft.Dynamics.CRM.${def.logicalName}'. Make sure to only use property names that are defined by the type.`);
      }
      if (column.type === 'lookup') throw badValue(`The lookup '${key}' of '${def.logicalName}' is set with '${key}@odata.bind' (or a '<nav>@odata.bind' naming the target table).`);
      if (column.readOnly) throw badValue(`The '${key}' attribute of '${def.logicalName}' is read-only (IsValidForCreate and IsValidForUpdate are false).`);
      if (column.createOnly && mode === 'update' && key !== def.primaryId) throw badValue(`The '${key}' attribute of '${def.logicalName}' can only be set on create.`);
      values.set(key, toStoredValue(def, column, raw));
      sent.push(key);
    }
    return { values, parties, sent };
  }

  private resolveBind(raw: unknown, target: string, key: string): LookupRef {
    if (typeof raw !== 'string') throw badValue(`'${key}' must be a string like '/<entityset>(<guid>)'.`);
    const m = /(?:^|\/)([A-Za-z_]+)\(([0-9a-fA-F-]{36})\)$/.exec(raw.trim());
    if (m && m[1] === 'activitypointers' && entityByLogicalName.get(target)?.activity) {
      // `objectid_activitypointer@odata.bind: /activitypointers(<id>)` (attachment-annotation-files.md): any activity.
      const id = m[2]!.toLowerCase();
      for (const d of entityByLogicalName.values()) if (d.activity && this.store.table(d.logicalName).get(id)) return { id, logicalName: d.logicalName };
      throw notFound('activitypointer', id);
    }
    const targetDef = entityByLogicalName.get(target);
    if (!m || !targetDef || !isGuid(m[2]!)) throw badValue(`'${key}' value '${raw}' is not a reference like '/${targetDef?.setName ?? target}(<guid>)'.`);
    const setDef = entityBySet.get(m[1]!);
    if (setDef !== targetDef) throw badValue(`'${key}' must reference '${targetDef.setName}', not '${m[1]!}'.`);
    const id = m[2]!.toLowerCase();
    if (!this.store.table(target).get(id)) throw notFound(target, id);
    return { id, logicalName: target };
  }

  private parseParties(def: EntityDef, raw: unknown): PartyInput[] {
    const nav = def.activity!.partyNav;
    if (!Array.isArray(raw)) throw badValue(`'${nav}' must be an array of activity parties.`);
    const partyDef = entityByLogicalName.get('activityparty')!;
    const out = raw.map((item: unknown, i): PartyInput => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw badValue(`${nav}[${i}] must be an object.`);
      let mask: number | undefined;
      let party: LookupRef | null = null;
      let addressused: string | null = null;
      for (const [key, value] of Object.entries(item as Record<string, unknown>)) {
        if (key.endsWith('@odata.bind')) {
          const bind = partyDef.binds.get(key.slice(0, -'@odata.bind'.length));
          if (!bind) throw new DataverseError(400, ErrorCodes.ODataResourceNotFound, `${nav}[${i}]: '${key}' is not a navigation property of activityparty (use partyid_systemuser, partyid_contact or partyid_account).`);
          party = this.resolveBind(value, bind.target, key);
        } else if (key === 'participationtypemask') {
          mask = toStoredValue(partyDef, partyDef.columns.get('participationtypemask')!, value) as number;
        } else if (key === 'addressused') {
          addressused = toStoredValue(partyDef, partyDef.columns.get('addressused')!, value) as string | null;
        } else if (!key.includes('@') && key !== 'activitypartyid') {
          throw new DataverseError(400, ErrorCodes.ODataResourceNotFound, `${nav}[${i}]: the property '${key}' does not exist on type 'Microsoft.Dynamics.CRM.activityparty'.`);
        }
      }
      if (mask === undefined) throw badValue(`${nav}[${i}]: participationtypemask is required.`);
      if (mask === 8 || mask === 9) throw badValue(`${nav}[${i}]: participationtypemask ${mask} (${mask === 8 ? 'Regarding' : 'Owner'}) is maintained by the platform from ${mask === 8 ? 'regardingobjectid' : 'ownerid'}.`);
      if (!party && !addressused) throw badValue(`${nav}[${i}]: give a partyid_*@odata.bind or an addressused (unresolved e-mail party).`);
      return { mask, party, addressused };
    });
    if (def.logicalName === 'email' && out.filter((p) => p.mask === 1).length > 1) {
      // An email has one sender (email.md: From is the party list of the sender; see README "Email").
      throw badValue('An email can have only one sender (participationtypemask 1).');
    }
    if (def.logicalName === 'appointment') {
      // appointment.md: Organizer targets systemuser only, and an appointment has one organizer.
      const organizers = out.filter((p) => p.mask === 7);
      if (organizers.length > 1) throw badValue('An appointment can have only one organizer (participationtypemask 7).');
      if (organizers.some((p) => p.party?.logicalName !== 'systemuser')) throw badValue('The organizer (participationtypemask 7) of an appointment must be a systemuser (partyid_systemuser@odata.bind).');
    }
    return out;
  }

  /** The party-list column names a set of parties touches (for filtering attributes). */
  private partyColumnNames(def: EntityDef, parties: PartyInput[] | undefined): string[] {
    if (!parties || !def.activity) return [];
    return Object.values(def.activity.partyColumns);
  }

  /** Adds party-list columns (requiredattendees, organizer, ...) to a Target; with `includeEmpty` every list is present. */
  private addPartyColumns(def: EntityDef, target: Map<string, Value | Row[]>, parties: Row[], includeEmpty: boolean): void {
    if (!def.activity) return;
    for (const [maskText, column] of Object.entries(def.activity.partyColumns)) {
      const list = parties.filter((p) => p['participationtypemask'] === Number(maskText));
      if (list.length > 0 || includeEmpty) target.set(column, list);
    }
  }

  /** Replaces an activity's parties: the caller's (whole collection) plus the platform's owner (9) and regarding (8) rows. */
  private writeParties(def: EntityDef, row: Row, input: PartyInput[] | undefined, version: number, creating: boolean): Row[] {
    const table = this.store.table('activityparty');
    const activityId = text(row['activityid']);
    const existing = creating ? [] : this.partiesOf(activityId);
    let wanted: PartyInput[];
    if (input === undefined) {
      wanted = existing
        .filter((p) => p['participationtypemask'] !== 8 && p['participationtypemask'] !== 9)
        .map((p) => ({ mask: Number(p['participationtypemask']), party: isLookup(p['partyid']) ? p['partyid'] : null, addressused: (p['addressused'] as string | null) ?? null }));
    } else {
      wanted = [...input];
    }
    if (creating && def.logicalName === 'appointment' && !wanted.some((p) => p.mask === 7) && isLookup(row['ownerid'])) {
      // The organizer defaults to the owner when none is given (see README: a choice, the docs do not state it).
      wanted.push({ mask: 7, party: row['ownerid'], addressused: null });
    }
    if (isLookup(row['ownerid'])) wanted.push({ mask: 9, party: row['ownerid'], addressused: null });
    if (isLookup(row['regardingobjectid'])) wanted.push({ mask: 8, party: row['regardingobjectid'], addressused: null });
    for (const p of existing) table.remove(text(p['activitypartyid']), version);
    const out: Row[] = [];
    for (const p of wanted) {
      const partyRow: Row = {
        activitypartyid: this.ids.guid(),
        activityid: { id: activityId, logicalName: def.logicalName },
        partyid: p.party,
        participationtypemask: p.mask,
        addressused: p.addressused ?? (p.party ? this.primaryEmail(p.party) : null),
        ispartydeleted: false,
        ownerid: isLookup(row['ownerid']) ? row['ownerid'] : null,
        versionnumber: version,
      };
      table.put(partyRow, version);
      out.push(partyRow);
    }
    return out;
  }

  private primaryEmail(ref: LookupRef): string | null {
    const row = this.store.table(ref.logicalName).get(ref.id);
    if (!row) return null;
    const email = ref.logicalName === 'systemuser' ? row['internalemailaddress'] : row['emailaddress1'];
    return typeof email === 'string' ? email : null;
  }

  /** State on create: the default state unless statecode may be given; statuscode must belong to the state. */
  private applyCreateState(def: EntityDef, row: Row, parsed: ParsedWrite, id: string): void {
    if (!def.states) return;
    const first = def.states[0]!;
    let state = first.state;
    if (parsed.values.has('statecode') && !def.createInOpenStateOnly) state = Number(parsed.values.get('statecode'));
    const option = stateOption(def, state);
    if (!option) throw this.invalidState(def, state, id);
    row['statecode'] = state;
    const status = parsed.values.has('statuscode') ? Number(parsed.values.get('statuscode')) : option.defaultStatus;
    if (!option.statuses.some((s) => s.value === status)) throw this.invalidStatus(def, status, option.label, id);
    row['statuscode'] = status;
  }

  /** State on update: statecode alone takes its default status; statuscode alone must belong to the current state. */
  private applyStateChange(def: EntityDef, row: Row, values: Map<string, Value>, id: string): void {
    if (!def.states) throw badValue(`'${def.logicalName}' has no statecode/statuscode.`);
    let state = Number(row['statecode']);
    if (values.has('statecode')) state = Number(values.get('statecode'));
    const option = stateOption(def, state);
    if (!option) throw this.invalidState(def, state, id);
    const status = values.has('statuscode') ? Number(values.get('statuscode')) : values.has('statecode') ? option.defaultStatus : Number(row['statuscode']);
    if (!option.statuses.some((s) => s.value === status)) throw this.invalidStatus(def, status, option.label, id);
    row['statecode'] = state;
    row['statuscode'] = status;
  }

  private invalidState(def: EntityDef, state: number, id: string): DataverseError {
    return new DataverseError(400, ErrorCodes.InvalidStateCodeStatusCode, `${state} is not a valid state code on ${def.logicalName} with Id ${id}.`);
  }

  private invalidStatus(def: EntityDef, status: number, stateLabel: string, id: string): DataverseError {
    const known = stateOfStatus(def, status) ? '' : ' (unknown status code)';
    return new DataverseError(400, ErrorCodes.InvalidStateCodeStatusCode, `${status} is not a valid status code for state code ${def.schemaName}State.${stateLabel.replace(/\s/g, '')} on ${def.logicalName} with Id ${id}.${known}`);
  }

  /** Columns the platform computes. */
  private computeColumns(def: EntityDef, row: Row, before: Row | undefined): void {
    if (def.logicalName === 'contact') {
      const full = [row['firstname'], row['middlename'], row['lastname']].filter((p): p is string => typeof p === 'string' && p.length > 0).join(' ');
      row['fullname'] = full.length ? full : null;
      row['yomifullname'] = row['fullname'] ?? null;
    }
    if (def.logicalName === 'systemuser' && (before === undefined || row['firstname'] !== before['firstname'] || row['lastname'] !== before['lastname'])) {
      const full = [row['firstname'], row['lastname']].filter((p): p is string => typeof p === 'string' && p.length > 0).join(' ');
      if (full.length) row['fullname'] = full;
    }
    if (def.logicalName === 'appointment') {
      const start = row['scheduledstart'];
      const end = row['scheduledend'];
      if (typeof start === 'string' && typeof end === 'string') row['scheduleddurationminutes'] = Math.round((Date.parse(end) - Date.parse(start)) / 60000);
    }
  }

  /** Cross-column rules of the registration tables (serviceendpoint.md, sdkmessageprocessingstep). */
  private validateRow(def: EntityDef, row: Row, _before: Row | undefined): void {
    if (def.logicalName === 'appointment') {
      const start = row['scheduledstart'];
      const end = row['scheduledend'];
      if (typeof start === 'string' && typeof end === 'string' && Date.parse(end) < Date.parse(start)) {
        throw badValue(`The scheduledend (${end}) of appointment ${text(row['activityid'])} is before its scheduledstart (${start}).`);
      }
    }
    if (def.logicalName === 'serviceendpoint') {
      if (typeof row['name'] !== 'string' || !row['name']) throw badValue('serviceendpoint.name is required.');
      if (row['contract'] === 8) {
        if (typeof row['url'] !== 'string' || !/^https?:\/\//i.test(row['url'])) throw badValue('A Webhook service endpoint (contract 8) needs an absolute http(s) url.');
        const authtype = row['authtype'];
        if (authtype !== 4 && authtype !== 5 && authtype !== 6) throw badValue('A Webhook service endpoint (contract 8) needs authtype 4 (WebhookKey), 5 (HttpHeader) or 6 (HttpQueryString).');
        const value = row['authvalue'];
        if (typeof value !== 'string' || !value) throw badValue('A Webhook service endpoint needs an authvalue.');
        if (authtype !== 4) parseAuthSettings(value);
      }
    }
    if (def.logicalName === 'sdkmessageprocessingstep') {
      if (!isLookup(row['sdkmessageid'])) throw badValue('sdkmessageprocessingstep needs sdkmessageid@odata.bind.');
      if (!isLookup(row['eventhandler'])) throw badValue('sdkmessageprocessingstep needs eventhandler_serviceendpoint@odata.bind.');
      if (row['mode'] === 1 && row['stage'] !== 40) throw badValue('An asynchronous step (mode 1) must be registered in stage 40 (PostOperation).');
      if (row['mode'] === 0) throw badValue('The simulator supports only asynchronous (mode 1) webhook steps.');
      if (isLookup(row['sdkmessagefilterid'])) {
        const filter = this.store.table('sdkmessagefilter').get(row['sdkmessagefilterid'].id);
        if (filter && isLookup(filter['sdkmessageid']) && filter['sdkmessageid'].id !== row['sdkmessageid'].id) {
          throw badValue('The sdkmessagefilter of the step belongs to a different sdkmessage.');
        }
      }
    }
    if (def.logicalName === 'sdkmessageprocessingstepimage') {
      if (!isLookup(row['sdkmessageprocessingstepid'])) throw badValue('sdkmessageprocessingstepimage needs sdkmessageprocessingstepid@odata.bind.');
      if (typeof row['entityalias'] !== 'string' || !row['entityalias']) throw badValue('sdkmessageprocessingstepimage needs an entityalias.');
      if (row['imagetype'] !== 0 && row['imagetype'] !== 1 && row['imagetype'] !== 2) throw badValue('sdkmessageprocessingstepimage.imagetype must be 0 (PreImage), 1 (PostImage) or 2 (Both).');
    }
  }
}

/**
 * The key/value pairs of an HttpHeader or HttpQueryString authvalue:
 * `<settings><setting name="k" value="v" /></settings>` (the format setup tools write for authtype 5 and 6).
 */
export function parseAuthSettings(value: string): Array<{ name: string; value: string }> {
  const trimmed = value.trim();
  if (!/^<settings>[\s\S]*<\/settings>$/.test(trimmed)) {
    throw badValue('authvalue for HttpHeader/HttpQueryString must be <settings><setting name="..." value="..." /></settings>.');
  }
  const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const out: Array<{ name: string; value: string }> = [];
  const re = /<setting\s+name="([^"]*)"\s+value="([^"]*)"\s*\/>/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(trimmed))) out.push({ name: decode(m[1]!), value: decode(m[2]!) });
  const rest = trimmed.replace(/^<settings>|<\/settings>$/g, '').replace(re, '').trim();
  if (rest) throw badValue(`authvalue has content that is not a <setting name="..." value="..." /> element: '${rest.slice(0, 80)}'.`);
  if (!out.length) throw badValue('authvalue must contain at least one <setting name="..." value="..." />.');
  return out;
}

/** Looks up the column definition (for serialisers). */
export function columnOf(def: EntityDef, name: string): Column | undefined {
  return def.columns.get(name);
}

/** Runs several platforms' hooks in order (the recurring series, email). */
export function combineHooks(...all: EngineHooks[]): EngineHooks {
  return {
    validate: (def, row, before) => all.forEach((h) => h.validate?.(def, row, before)),
    partiesWritten: (def, row, parties, sent) => all.forEach((h) => h.partiesWritten?.(def, row, parties, sent)),
    afterCreate: (def, row, caller, options) => all.forEach((h) => h.afterCreate?.(def, row, caller, options)),
    afterUpdate: (def, before, after, sent, caller, options) => all.forEach((h) => h.afterUpdate?.(def, before, after, sent, caller, options)),
    afterRemove: (def, before, caller, options) => all.forEach((h) => h.afterRemove?.(def, before, caller, options)),
  };
}
