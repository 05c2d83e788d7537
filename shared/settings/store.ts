// The configuration store: one Table Storage partition ("config") holding
//   head                       { version, updatedBy, at }: the version in force
//   scope|global               { version, entries }: the global settings
//   scope|mailbox:<id>         { version, entries }: one mailbox's settings (Entra object id, lower case)
//   version|<0000000042>       { scopes, changes, updatedBy, at, note }: what that version changed, and by whom
// A change writes its scope rows, its version row and the head in one entity-group transaction conditional on the
// head's etag, so a version is all-or-nothing and two writers cannot both claim the same number
// (https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions). The workers read
// through a short-lived cache (60 s by default): a change is in force everywhere within that time.
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import { SyncError } from '../errors.js';
import { checkedKey, getEntityOrUndefined, translateTableError } from '../storage/tables.js';
import {
  ConfigValidationError,
  checkEntries,
  configKinds,
  effectiveConfig,
  relationProblems,
  type ConfigEntries,
  type ConfigValue,
  type EffectiveConfig,
} from './schema.js';

const partition = 'config';
const headRow = 'head';
const globalScope = 'global';
/** Entity-group transactions take at most 100 operations: the head, the version row and 98 scopes. */
export const maxScopesPerChange = 98;

/** A configuration scope: "global" or a mailbox's Entra object id. */
export type ConfigScope = 'global' | { mailboxId: string };

const scopeName = (scope: ConfigScope) => (scope === 'global' ? globalScope : `mailbox:${scope.mailboxId.toLowerCase()}`);
const scopeRow = (name: string) => checkedKey(`scope|${name}`, 'configuration scope');
const versionRow = (version: number) => `version|${String(version).padStart(10, '0')}`;

const entriesSchema = z.record(z.string(), z.unknown());
const exportSchema = z
  .object({
    format: z.literal('dataverse-exchange-sync/config@1'),
    version: z.number().int().min(0).optional(),
    global: entriesSchema.default({}),
    mailboxes: z.record(z.string().min(1), entriesSchema).default({}),
  })
  .strict();
/** The JSON of `config export` / `config import` (promotion between environments). */
export type ConfigExport = z.input<typeof exportSchema>;

/** One key's change in a version: unset when `to` is undefined. */
export interface ConfigChange {
  scope: string;
  key: string;
  from: ConfigValue | undefined;
  to: ConfigValue | undefined;
}

export interface ConfigVersion {
  version: number;
  updatedBy: string;
  at: string;
  note?: string | undefined;
  changes: ConfigChange[];
}

/** Everything stored: the version in force and each scope's entries. */
export interface ConfigSnapshot {
  version: number;
  updatedBy: string | undefined;
  at: string | undefined;
  global: ConfigEntries;
  /** By mailbox id (lower case). */
  mailboxes: Record<string, ConfigEntries>;
}

/** A planned change: what it would change (dry run) and the version it would become. */
export interface ConfigPlan {
  baseVersion: number;
  changes: ConfigChange[];
  next: ConfigSnapshot;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class ConfigStore {
  private cache: { at: number; snapshot: ConfigSnapshot } | undefined;
  /** Effective configurations by snapshot (weakly: a snapshot replaced by a newer read takes its merges with it). */
  private readonly merged = new WeakMap<ConfigSnapshot, Map<string, EffectiveConfig>>();

  constructor(
    private readonly table: TableClient,
    /** How long a read is reused (workers); 0 reads every time (the CLI). */
    private readonly cacheMs = 60_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Everything stored, read fresh (one partition query). */
  async snapshot(options: { fresh?: boolean } = {}): Promise<ConfigSnapshot> {
    if (!options.fresh && this.cache && this.clock() - this.cache.at < this.cacheMs) return this.cache.snapshot;
    const snapshot: ConfigSnapshot = { version: 0, updatedBy: undefined, at: undefined, global: {}, mailboxes: {} };
    try {
      const rows = this.table.listEntities<{ rowKey: string; version?: number; entries?: string; updatedBy?: string; at?: string }>({
        queryOptions: { filter: odata`PartitionKey eq ${partition} and (RowKey eq ${headRow} or (RowKey ge 'scope|' and RowKey lt 'scope}'))` },
      });
      for await (const row of rows) {
        if (row.rowKey === headRow) {
          snapshot.version = row.version ?? 0;
          snapshot.updatedBy = row.updatedBy;
          snapshot.at = row.at;
          continue;
        }
        const name = row.rowKey.slice('scope|'.length);
        const entries = JSON.parse(row.entries ?? '{}') as ConfigEntries;
        if (name === globalScope) snapshot.global = entries;
        else if (name.startsWith('mailbox:')) snapshot.mailboxes[name.slice('mailbox:'.length)] = entries;
      }
    } catch (error) {
      throw translateTableError(error);
    }
    this.cache = { at: this.clock(), snapshot };
    return snapshot;
  }

  /**
   * The effective configuration of a mailbox (defaults, then global, then the mailbox's own keys), through the
   * cache. This is what the planner is given as state; `version` is the configuration version in force.
   */
  async effective(mailboxId: string | undefined, options: { fresh?: boolean } = {}): Promise<EffectiveConfig> {
    const snapshot = await this.snapshot(options);
    // Merged once per snapshot and mailbox: every change asks for its mailbox's configuration, and the merge (defaults,
    // global, the mailbox's keys, validated) cost more than the rest of the planning. A new snapshot is a new object.
    let merged = this.merged.get(snapshot);
    if (!merged) {
      merged = new Map();
      this.merged.set(snapshot, merged);
    }
    const key = mailboxId?.toLowerCase() ?? '';
    let config = merged.get(key);
    if (!config) {
      config = effectiveConfig(snapshot.version, snapshot.global, mailboxId ? snapshot.mailboxes[key] : undefined);
      merged.set(key, config);
    }
    return config;
  }

  /** Plans setting (value) or unsetting (undefined) keys of one scope; validates; writes nothing. */
  async planSet(scope: ConfigScope, values: Record<string, unknown>): Promise<ConfigPlan> {
    const current = await this.snapshot({ fresh: true });
    const name = scopeName(scope);
    const toSet = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
    const checked = checkEntries(toSet);
    const before = (scope === 'global' ? current.global : current.mailboxes[name.slice('mailbox:'.length)]) ?? {};
    const after: ConfigEntries = { ...before, ...checked };
    for (const [key, value] of Object.entries(values)) if (value === undefined) delete after[key];
    const next = withScope(current, name, after);
    return { baseVersion: current.version, changes: diffScope(name, before, after), next: checkRelations(next) };
  }

  /** Plans replacing everything with an exported configuration (config import); validates every scope. */
  async planImport(json: unknown): Promise<ConfigPlan> {
    const parsed = exportSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new SyncError('InvalidInput', `configuration file: ${issue.path.join('.') || '(top level)'} ${issue.message}`, { field: issue.path.join('.') });
    }
    const current = await this.snapshot({ fresh: true });
    const problems: ConfigValidationError['problems'][number][] = [];
    const check = (scope: string, entries: Record<string, unknown>): ConfigEntries => {
      try {
        return checkEntries(entries);
      } catch (error) {
        if (error instanceof ConfigValidationError) problems.push(...error.problems.map((p) => ({ ...p, key: `${scope} ${p.key}` })));
        else throw error;
        return {};
      }
    };
    const next: ConfigSnapshot = { ...current, global: check(globalScope, parsed.data.global), mailboxes: {} };
    for (const [id, entries] of Object.entries(parsed.data.mailboxes)) next.mailboxes[id.toLowerCase()] = check(`mailbox:${id.toLowerCase()}`, entries);
    if (problems.length) throw new ConfigValidationError(problems);
    const changes: ConfigChange[] = diffScope(globalScope, current.global, next.global);
    for (const id of new Set([...Object.keys(current.mailboxes), ...Object.keys(next.mailboxes)])) {
      changes.push(...diffScope(`mailbox:${id}`, current.mailboxes[id] ?? {}, next.mailboxes[id] ?? {}));
    }
    return { baseVersion: current.version, changes, next: checkRelations(next) };
  }

  /**
   * Writes a planned change as the next version, atomically, if the configuration is still at the plan's base
   * version (otherwise PreconditionFailed: plan again). A plan without changes writes nothing.
   */
  async apply(plan: ConfigPlan, updatedBy: string, note?: string): Promise<ConfigVersion | undefined> {
    if (plan.changes.length === 0) return undefined;
    const scopes = [...new Set(plan.changes.map((c) => c.scope))];
    if (scopes.length > maxScopesPerChange) {
      throw new SyncError('InvalidInput', `one change may touch at most ${maxScopesPerChange} scopes (this one touches ${scopes.length}); import in parts`, { field: 'mailboxes' });
    }
    const head = await getEntityOrUndefined<{ version?: number }>(this.table, partition, headRow);
    if ((head?.version ?? 0) !== plan.baseVersion) throw new SyncError('PreconditionFailed', `the configuration changed meanwhile (now version ${head?.version ?? 0}, planned on ${plan.baseVersion}); run the command again`);
    const version = plan.baseVersion + 1;
    const at = new Date(this.clock()).toISOString();
    const record: ConfigVersion = { version, updatedBy, at, ...(note ? { note } : {}), changes: plan.changes };
    const actions: TransactionAction[] = [];
    for (const name of scopes) {
      const entries = name === globalScope ? plan.next.global : plan.next.mailboxes[name.slice('mailbox:'.length)];
      if (entries && Object.keys(entries).length > 0) actions.push(['upsert', { partitionKey: partition, rowKey: scopeRow(name), version, entries: JSON.stringify(entries) }, 'Replace']);
      else actions.push(['delete', { partitionKey: partition, rowKey: scopeRow(name) }]);
    }
    actions.push(['create', { partitionKey: partition, rowKey: versionRow(version), version, updatedBy, at, note: note ?? '', changes: JSON.stringify(plan.changes) }]);
    const headEntity = { partitionKey: partition, rowKey: headRow, version, updatedBy, at };
    actions.push(head ? ['update', headEntity, 'Replace', { etag: head.etag }] : ['create', headEntity]);
    // A scope row deleted that never existed fails the whole transaction (404); only delete rows that exist.
    const existing = await this.snapshot({ fresh: true });
    const filtered = actions.filter((a) => a[0] !== 'delete' || rowExists(existing, a[1].rowKey));
    try {
      await this.table.submitTransaction(filtered);
    } catch (error) {
      const translated = translateTableError(error);
      if (translated instanceof SyncError && (translated.code === 'PreconditionFailed' || translated.code === 'AlreadyExists')) {
        throw new SyncError('PreconditionFailed', 'the configuration changed meanwhile; run the command again', { cause: error });
      }
      throw translated;
    }
    this.cache = undefined;
    return record;
  }

  /** The recorded versions, newest first (who changed what). */
  async history(limit = 20): Promise<ConfigVersion[]> {
    const out: ConfigVersion[] = [];
    try {
      const rows = this.table.listEntities<{ version: number; updatedBy: string; at: string; note?: string; changes: string }>({
        queryOptions: { filter: odata`PartitionKey eq ${partition} and RowKey ge 'version|' and RowKey lt 'version}'` },
      });
      for await (const row of rows) out.push({ version: row.version, updatedBy: row.updatedBy, at: row.at, ...(row.note ? { note: row.note } : {}), changes: JSON.parse(row.changes) as ConfigChange[] });
    } catch (error) {
      throw translateTableError(error);
    }
    return out.sort((a, b) => b.version - a.version).slice(0, limit);
  }

  /** The stored configuration as the JSON `config import` takes. */
  async export(): Promise<ConfigExport> {
    const s = await this.snapshot({ fresh: true });
    return { format: 'dataverse-exchange-sync/config@1', version: s.version, global: s.global, mailboxes: s.mailboxes };
  }
}

function rowExists(snapshot: ConfigSnapshot, rowKey: string): boolean {
  const name = rowKey.slice('scope|'.length);
  return name === globalScope ? Object.keys(snapshot.global).length > 0 : snapshot.mailboxes[name.slice('mailbox:'.length)] !== undefined;
}

function withScope(s: ConfigSnapshot, name: string, entries: ConfigEntries): ConfigSnapshot {
  if (name === globalScope) return { ...s, global: entries };
  const mailboxes = { ...s.mailboxes };
  const id = name.slice('mailbox:'.length);
  if (Object.keys(entries).length) mailboxes[id] = entries;
  else delete mailboxes[id];
  return { ...s, mailboxes };
}

function diffScope(scope: string, before: ConfigEntries, after: ConfigEntries): ConfigChange[] {
  const changes: ConfigChange[] = [];
  for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    if (!same(before[key], after[key])) changes.push({ scope, key, from: before[key], to: after[key] });
  }
  return changes;
}

/** Checks what only the merged view shows (global with each mailbox); throws with every problem. */
function checkRelations(s: ConfigSnapshot): ConfigSnapshot {
  const problems = relationProblems(effectiveConfig(0, s.global));
  // A per-kind breaker key's kind part, for every kind of the registry (breaker.<kind>.<limit>).
  const perKindBreakerKey = new RegExp(`^breaker\\.(${configKinds.join('|')})\\.`);
  // A mailbox that only inherits the global problem is not named again.
  for (const [id, entries] of Object.entries(s.mailboxes)) {
    for (const p of relationProblems(effectiveConfig(0, s.global, entries))) {
      const general = (key: string) => key.replace(perKindBreakerKey, 'breaker.');
      if (!problems.some((q) => general(q.key) === general(p.key) && q.message === p.message)) problems.push({ ...p, key: `mailbox:${id} ${p.key}` });
    }
  }
  if (problems.length) throw new ConfigValidationError(problems);
  return s;
}
