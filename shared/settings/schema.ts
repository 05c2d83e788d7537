// The sync configuration as data (issue 16): what administrators change while the app runs, kept apart from the
// app settings of shared/config.ts (infrastructure, read once from the environment). A configuration is a set of
// keys with values, global or for one mailbox; a mailbox's effective configuration is the defaults, then the
// global values, then its own. Every key and value is validated here, and a refusal names the key and the rule.
//
// Keys:
//   fields.<kind>.<field>.direction   both | toExchange | toDataverse | none, within the allowed-directions matrix
//                                     (shared/mapping/allowedDirections.ts)
//   scope.<kind>                      a list of filters, combined with OR (server-side sync's union semantics)
//   breaker.<limit>                   mass-delete breaker limits, for every kind
//   breaker.<kind>.<limit>            the same limit for one kind (wins over breaker.<limit>)
import { z } from 'zod';
import { SyncError } from '../errors.js';
import { allowedDirections, fieldTables, type Direction, type EntityKind } from '../mapping/index.js';
import { kindNamed, kindNames } from '../sync/kinds/index.js';

/** The kinds a configuration key can name: the registry's (a new kind gets its keys without a list here). */
export const configKinds: readonly EntityKind[] = kindNames;

/** Direction words as the CLI and the JSON take them (admin.md §6.2), and the mapping's own names. */
export const directionWords = { both: 'Both', toExchange: 'ToExchange', toDataverse: 'ToDataverse', none: 'None' } as const satisfies Record<string, Direction>;
export type DirectionWord = keyof typeof directionWords;
export const wordOfDirection = (d: Direction): DirectionWord => (Object.keys(directionWords) as DirectionWord[]).find((w) => directionWords[w] === d)!;

// ------------------------------------------------------------------------------------------------------------
// Scope filters
// ------------------------------------------------------------------------------------------------------------

/** A column condition of a filter; the value is compared with the record's column as JSON. */
const conditionSchema = z
  .object({
    column: z.string().regex(/^[a-z_][a-z0-9_]{0,99}$/, 'must be a Dataverse column logical name (lower case letters, digits, _)'),
    op: z.enum(['eq', 'ne']),
    value: z.union([z.string().max(400), z.number(), z.boolean(), z.null()]),
  })
  .strict();

/**
 * One sync filter. `who` is the user rule of server-side sync's templates: `ownerOrParty` is "My Activities" (the
 * user owns the activity or is one of its parties), `owner` is "My Contacts" / "my owned records". `where` adds
 * column conditions, all of which must hold (the recommended "Sync this record" Boolean column is
 * `{ "column": "new_syncthisrecord", "op": "eq", "value": true }`:
 * https://learn.microsoft.com/power-platform/admin/choose-records-synchronize-dynamics-365-outlook-exchange).
 */
export const scopeFilterSchema = z
  .object({
    name: z.string().min(1).max(100),
    who: z.enum(['ownerOrParty', 'owner']),
    where: z.array(conditionSchema).max(10).default([]),
  })
  .strict();
export type ScopeFilter = z.infer<typeof scopeFilterSchema>;
export type ScopeCondition = z.infer<typeof conditionSchema>;

/** Server-side sync's default templates ("My Activities", "My Contacts": configure-default-sync-filters). */
export const defaultScope: Readonly<Record<EntityKind, readonly ScopeFilter[]>> = {
  appointment: [{ name: 'My Activities', who: 'ownerOrParty', where: [] }],
  task: [{ name: 'My Activities', who: 'ownerOrParty', where: [] }],
  contact: [{ name: 'My Contacts', who: 'owner', where: [] }],
  // Sync filters are for appointments, contacts and tasks only; email is tracked by its category and sent by its
  // sender's mailbox (its own flow, shared/sync/kinds/email.ts), so it has none and scope.email is refused.
  email: [],
};

// ------------------------------------------------------------------------------------------------------------
// Mass-delete breaker limits
// ------------------------------------------------------------------------------------------------------------

/**
 * The breaker's limits (admin.md §6.5; the peers' rules it copies: vdirsyncer's empty side, rclone's ratio, Joplin's
 * lesson that a ratio alone misses a partial listing, so an absolute cap too). The window is rolling, per
 * (mailbox, kind, direction). Inferred deletes (an item missing from a listing) get the stricter limits.
 */
export const breakerSchema = z
  .object({
    /** Length of the rolling window, minutes. */
    windowMinutes: z.number().int().min(1).max(7 * 24 * 60),
    /** Hold every destructive write when a side's listing returns no items while at least emptyListingMinPairs pairs exist. */
    emptyListingHolds: z.boolean(),
    emptyListingMinPairs: z.number().int().min(1).max(1_000_000),
    /** The ratio rule counts only from this many deletes in the window. */
    minDeletes: z.number().int().min(1).max(1_000_000),
    /** Trip when deletes / pairs reaches this share (0-1) of explicit deletes. */
    deleteRatio: z.number().gt(0).max(1),
    /** Trip when explicit deletes in the window reach this count. */
    deleteCap: z.number().int().min(1).max(1_000_000),
    /** The same two for deletes inferred from a listing (delta, reconciliation). */
    inferredDeleteRatio: z.number().gt(0).max(1),
    inferredDeleteCap: z.number().int().min(1).max(1_000_000),
    /** Hold deletes inferred during a resync (new subscription, expired delta token, first sync) until released. */
    holdResyncInferredDeletes: z.boolean(),
    /** Creates per window before the create cap holds them (duplicate floods at enable time). */
    createCap: z.number().int().min(1).max(1_000_000),
  })
  .strict();
export type BreakerLimits = z.infer<typeof breakerSchema>;

/** Defaults from admin.md §6.5: a user tidying 10-20 items an hour passes; 25 of 100 or 300 of 5,000 trip. */
export const defaultBreaker: Readonly<BreakerLimits> = Object.freeze({
  windowMinutes: 60,
  emptyListingHolds: true,
  emptyListingMinPairs: 5,
  minDeletes: 10,
  deleteRatio: 0.2,
  deleteCap: 100,
  inferredDeleteRatio: 0.05,
  inferredDeleteCap: 25,
  holdResyncInferredDeletes: true,
  createCap: 500,
});
export const breakerLimitNames = Object.keys(defaultBreaker) as (keyof BreakerLimits)[];

// ------------------------------------------------------------------------------------------------------------
// Keys
// ------------------------------------------------------------------------------------------------------------

/** A stored value: what one key holds (a direction word, a filter list, a number or a flag). */
export type ConfigValue = string | number | boolean | ScopeFilter[];
/** The settings of one scope (global or a mailbox), key -> value, as stored and exported. */
export type ConfigEntries = Record<string, ConfigValue>;

/** A configuration problem: the key, the rule it breaks (a stable name) and what is wrong. */
export interface ConfigProblem {
  key: string;
  rule: ConfigRule;
  message: string;
}

/** The closed set of rules a change can break (named in every refusal, documented in docs/operations.md). */
export type ConfigRule = 'unknown-key' | 'unknown-field' | 'direction-value' | 'allowed-directions' | 'scope-filter' | 'scope-not-empty' | 'breaker-value' | 'breaker-relation';

/** Refusal of a configuration change: every problem, each naming its key and rule. */
export class ConfigValidationError extends SyncError {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super('InvalidInput', `invalid sync configuration: ${problems.map((p) => `${p.key}: ${p.message} [rule ${p.rule}]`).join('; ')}`, { field: problems[0]?.key });
    this.name = 'ConfigValidationError';
  }
}

const isKind = (s: string): s is EntityKind => (configKinds as readonly string[]).includes(s);

/** Parses and checks one key's value (a CLI string or a JSON value); returns the value to store, or a problem. */
export function checkEntry(key: string, raw: unknown): { value: ConfigValue } | { problem: ConfigProblem } {
  const problem = (rule: ConfigRule, message: string) => ({ problem: { key, rule, message } });
  const parts = key.split('.');
  if (parts[0] === 'fields') {
    const [, kind, field, last] = parts;
    if (parts.length !== 4 || last !== 'direction' || !kind || !field) return problem('unknown-key', 'field keys are fields.<kind>.<field>.direction');
    if (!isKind(kind)) return problem('unknown-key', `"${kind}" is not a kind (one of ${configKinds.join(', ')})`);
    const allowed = allowedDirections(kind, field);
    if (!allowed) return problem('unknown-field', `${kind} has no field "${field}" (fields: ${fieldTables[kind].map((r) => r.name).join(', ')})`);
    if (typeof raw !== 'string' || !(raw in directionWords)) return problem('direction-value', `must be one of ${Object.keys(directionWords).join(', ')}`);
    const direction = directionWords[raw as DirectionWord];
    if (!allowed.includes(direction)) {
      const words = allowed.map(wordOfDirection).join(', ');
      return problem(
        'allowed-directions',
        allowed.length === 1
          ? `${kind} ${field} is a fixed field: it only syncs ${words} (server-side synchronization's allowed directions, https://learn.microsoft.com/power-platform/admin/what-fields-synchronized-outlook)`
          : `${kind} ${field} allows ${words}, not ${raw}`,
      );
    }
    return { value: raw };
  }
  if (parts[0] === 'scope') {
    const kind = parts[1];
    if (parts.length !== 2 || !kind) return problem('unknown-key', 'scope keys are scope.<kind>');
    if (!isKind(kind)) return problem('unknown-key', `"${kind}" is not a kind (one of ${configKinds.join(', ')})`);
    if (kindNamed(kind).flow) return problem('unknown-key', `${kind} is not filtered by scope: it is tracked by its category and sent by its sender's mailbox`);
    let value = raw;
    if (typeof raw === 'string') {
      try {
        value = JSON.parse(raw);
      } catch {
        return problem('scope-filter', 'must be a JSON list of filters, e.g. [{"name":"My Activities","who":"ownerOrParty"}]');
      }
    }
    const parsed = z.array(scopeFilterSchema).safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return problem('scope-filter', `${issue.path.length ? `${issue.path.join('.')} ` : ''}${issue.message}`);
    }
    // Server-side sync syncs nothing of a table with no filter; here a kind is switched off per mailbox instead
    // (mailbox enable --entities), so an empty list is refused rather than taken to mean "unlink everything".
    if (parsed.data.length === 0) return problem('scope-not-empty', 'needs at least one filter (switch a kind off with mailbox enable --entities)');
    const names = parsed.data.map((f) => f.name.toLowerCase());
    if (new Set(names).size !== names.length) return problem('scope-filter', 'filter names must be unique');
    return { value: parsed.data };
  }
  if (parts[0] === 'breaker') {
    const [, a, b] = parts;
    const kind = parts.length === 3 ? a : undefined;
    const limit = (parts.length === 3 ? b : a) as keyof BreakerLimits | undefined;
    if (parts.length < 2 || parts.length > 3 || !limit || (kind !== undefined && !isKind(kind))) {
      return problem('unknown-key', `breaker keys are breaker.<limit> or breaker.<kind>.<limit> (kinds ${configKinds.join(', ')})`);
    }
    if (!breakerLimitNames.includes(limit)) return problem('unknown-key', `"${limit}" is not a breaker limit (one of ${breakerLimitNames.join(', ')})`);
    const shape = breakerSchema.shape[limit];
    let value: unknown = raw;
    if (typeof raw === 'string') value = shape instanceof z.ZodBoolean ? (raw === 'true' ? true : raw === 'false' ? false : raw) : raw.trim() === '' ? raw : Number(raw);
    const parsed = shape.safeParse(value);
    if (!parsed.success) return problem('breaker-value', parsed.error.issues[0]!.message);
    return { value: parsed.data };
  }
  return problem('unknown-key', 'keys start with fields., scope. or breaker.');
}

/** Checks a whole scope's entries; throws ConfigValidationError with every problem. */
export function checkEntries(entries: Record<string, unknown>): ConfigEntries {
  const out: ConfigEntries = {};
  const problems: ConfigProblem[] = [];
  for (const [key, raw] of Object.entries(entries)) {
    const checked = checkEntry(key, raw);
    if ('problem' in checked) problems.push(checked.problem);
    else out[key] = checked.value;
  }
  if (problems.length) throw new ConfigValidationError(problems);
  return out;
}

// ------------------------------------------------------------------------------------------------------------
// The effective configuration of a mailbox
// ------------------------------------------------------------------------------------------------------------

/** What a mailbox syncs by, with every default filled in. Frozen; part of the planner's state. */
export interface EffectiveConfig {
  /** The configuration version it was read at (0: nothing was ever set, the defaults). */
  version: number;
  /** Field directions per kind: the field table's own, with the overrides applied. */
  fields: Readonly<Record<EntityKind, Readonly<Record<string, Direction>>>>;
  /** Direction overrides only (what differs from the field table), for display. */
  overrides: Readonly<Record<EntityKind, Readonly<Record<string, Direction>>>>;
  scope: Readonly<Record<EntityKind, readonly ScopeFilter[]>>;
  breaker: Readonly<Record<EntityKind, Readonly<BreakerLimits>>>;
}

/**
 * Per kind, the fields that flow to Exchange in at least one configuration in force (global, or any mailbox's own):
 * Dataverse's Update step is one per table for every mailbox, so its filtering attributes are the union
 * (shared/onboarding/webhooks.ts). A field set to toDataverse or none everywhere raises no webhook.
 */
export function fieldsFlowingToExchange(global: ConfigEntries, mailboxes: readonly ConfigEntries[]): Record<EntityKind, ReadonlySet<string>> {
  const out = {} as Record<EntityKind, Set<string>>;
  for (const kind of configKinds) out[kind] = new Set();
  for (const config of [effectiveConfig(0, global), ...mailboxes.map((m) => effectiveConfig(0, global, m))]) {
    for (const kind of configKinds) {
      for (const [field, direction] of Object.entries(config.fields[kind])) if (direction === 'Both' || direction === 'ToExchange') out[kind].add(field);
    }
  }
  return out;
}

/**
 * Merges defaults, global and mailbox entries (later wins, key by key) into an effective configuration, and
 * checks the relations between keys (the inferred limits may not be looser than the explicit ones).
 */
export function effectiveConfig(version: number, global: ConfigEntries, mailbox: ConfigEntries = {}): EffectiveConfig {
  const entries = { ...global, ...mailbox };
  const fields = {} as Record<EntityKind, Record<string, Direction>>;
  const overrides = {} as Record<EntityKind, Record<string, Direction>>;
  const scope = {} as Record<EntityKind, readonly ScopeFilter[]>;
  const breaker = {} as Record<EntityKind, BreakerLimits>;
  for (const kind of configKinds) {
    fields[kind] = {};
    overrides[kind] = {};
    for (const row of fieldTables[kind]) {
      const word = entries[`fields.${kind}.${row.name}.direction`];
      const direction = typeof word === 'string' ? directionWords[word as DirectionWord] : row.direction;
      fields[kind][row.name] = direction;
      if (direction !== row.direction) overrides[kind][row.name] = direction;
    }
    const filters = entries[`scope.${kind}`];
    scope[kind] = Array.isArray(filters) ? filters : defaultScope[kind];
    const limits: BreakerLimits = { ...defaultBreaker };
    for (const name of breakerLimitNames) {
      const value = entries[`breaker.${kind}.${name}`] ?? entries[`breaker.${name}`];
      if (value !== undefined) (limits as Record<string, unknown>)[name] = value;
    }
    breaker[kind] = Object.freeze(limits);
  }
  return Object.freeze({ version, fields, overrides, scope, breaker });
}

/** Relations between keys that only the merged view can check (run on the merged global + mailbox entries). */
export function relationProblems(config: EffectiveConfig): ConfigProblem[] {
  const perKind = kindRelationProblems(config);
  // The same problem for every kind comes from a key for every kind (breaker.<limit>): name it once.
  const out: ConfigProblem[] = [];
  for (const p of perKind) {
    const general = p.key.replace(/^breaker\.\w+\./, 'breaker.');
    const all = configKinds.every((k) => perKind.some((q) => q.key === `breaker.${k}.${general.slice('breaker.'.length)}` && q.message === p.message));
    const key = all ? general : p.key;
    if (!out.some((q) => q.key === key && q.message === p.message)) out.push({ ...p, key });
  }
  return out;
}

function kindRelationProblems(config: EffectiveConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const kind of configKinds) {
    const b = config.breaker[kind];
    if (b.inferredDeleteCap > b.deleteCap) {
      problems.push({ key: `breaker.${kind}.inferredDeleteCap`, rule: 'breaker-relation', message: `${b.inferredDeleteCap} is looser than deleteCap ${b.deleteCap}: deletes inferred from a listing get the stricter limit` });
    }
    if (b.inferredDeleteRatio > b.deleteRatio) {
      problems.push({ key: `breaker.${kind}.inferredDeleteRatio`, rule: 'breaker-relation', message: `${b.inferredDeleteRatio} is looser than deleteRatio ${b.deleteRatio}: deletes inferred from a listing get the stricter limit` });
    }
  }
  return problems;
}

/** The defaults, with nothing set (version 0). */
export const defaultConfig: EffectiveConfig = effectiveConfig(0, {});
