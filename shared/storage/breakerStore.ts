// The breaker's state per scope (mailbox, kind, direction), its quarantine of held writes, and the log of operator
// actions. The quarantine is its own table and not the dead-letter queue: a held delete is not a failure, it waits
// for a person (breaker release / discard / restore), and creates and updates of the scope go on meanwhile.
// Held entries carry ids only, never an item's contents (subject, body, addresses).
import { randomUUID } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { SyncError } from '../errors.js';
import { breakerDirections, breakerTriggers, emptyScopeState, scopeStateSchema, type BreakerDirection, type ScopeState } from '../sync/breaker.js';
import { checkedKey, decodeKey, encodeKey, getEntityOrUndefined, tableStatus, translateTableError } from './tables.js';

export interface BreakerScope {
  mailboxId: string;
  kind: string;
  direction: BreakerDirection;
}

/** The scope as operators type it: `<mailbox id>/<kind>/<direction>`. */
export const scopeName = (s: BreakerScope) => `${s.mailboxId.toLowerCase()}/${s.kind}/${s.direction}`;

/** Parses a scope name; InvalidInput naming the part that is wrong. */
export function parseScopeName(name: string): BreakerScope {
  const parts = name.split('/');
  if (parts.length !== 3 || !parts[0] || !parts[1]) throw new SyncError('InvalidInput', 'a breaker scope is <mailbox id>/<kind>/<direction>', { field: 'scope' });
  const direction = parts[2] as BreakerDirection;
  if (!breakerDirections.includes(direction)) throw new SyncError('InvalidInput', `a breaker scope's direction is one of ${breakerDirections.join(', ')}`, { field: 'scope' });
  return { mailboxId: parts[0].toLowerCase(), kind: parts[1], direction };
}

export const heldEntrySchema = z.object({
  mailboxId: z.string(),
  kind: z.string(),
  direction: z.enum(breakerDirections),
  /** What was held: a destructive write, or a create past the create cap. */
  op: z.enum(['delete', 'create']),
  /** The side the held write was to change. */
  side: z.enum(['exchange', 'dataverse']),
  how: z.enum(['delete', 'cancel']).optional(),
  dataverseEntity: z.string(),
  dataverseId: z.string().optional(),
  exchangeId: z.string().optional(),
  exchangeListId: z.string().optional(),
  inferred: z.boolean(),
  trigger: z.enum(breakerTriggers),
  /** The planner's reason for the write (a rule's name, never contents). */
  reason: z.string(),
  /**
   * For a held delete of a part (an occurrence of a series): the pair that carries it (its Dataverse id), the part's
   * key (the original start) and what that pair records for it when the delete is discarded.
   */
  part: z.object({ carrier: z.string(), key: z.string(), onDiscard: z.string() }).optional(),
  firstSeen: z.string(),
  lastSeen: z.string(),
});
export type HeldEntry = z.infer<typeof heldEntrySchema>;

export interface AuditEntry {
  at: string;
  action: 'release' | 'discard' | 'restore';
  scope: string;
  items: number;
  operator: string;
}

const scopePartition = 'scope';
const auditPartition = 'audit';
const heldKey = (e: Pick<HeldEntry, 'op' | 'dataverseId' | 'exchangeId'>) => checkedKey(encodeKey(`${e.op}|${e.dataverseId ?? ''}|${e.exchangeId ?? ''}`), 'held item');

export class BreakerStore {
  constructor(
    private readonly state: TableClient,
    private readonly quarantine: TableClient,
  ) {}

  async get(scope: BreakerScope): Promise<ScopeState> {
    const row = await getEntityOrUndefined<{ data: string }>(this.state, scopePartition, checkedKey(encodeKey(scopeName(scope)), 'breaker scope'));
    return row ? scopeStateSchema.parse(JSON.parse(row.data)) : emptyScopeState();
  }

  /** Every scope with a stored state (list). */
  async scopes(): Promise<{ scope: BreakerScope; state: ScopeState }[]> {
    const out: { scope: BreakerScope; state: ScopeState }[] = [];
    try {
      for await (const row of this.state.listEntities<{ rowKey: string; data: string }>({ queryOptions: { filter: odata`PartitionKey eq ${scopePartition}` } })) {
        out.push({ scope: parseScopeName(decodeKey(row.rowKey)), state: scopeStateSchema.parse(JSON.parse(row.data)) });
      }
    } catch (error) {
      throw translateTableError(error);
    }
    return out;
  }

  /**
   * Reads the scope's state, applies `change`, and writes the result conditional on the row's etag, starting over
   * when another worker wrote in between, so two concurrent deletes never both count as the first.
   */
  async update<T>(scope: BreakerScope, change: (state: ScopeState) => { state: ScopeState; result: T }): Promise<T> {
    const rowKey = checkedKey(encodeKey(scopeName(scope)), 'breaker scope');
    for (let attempt = 0; attempt < 8; attempt += 1) {
      const row = await getEntityOrUndefined<{ data: string }>(this.state, scopePartition, rowKey);
      const current = row ? scopeStateSchema.parse(JSON.parse(row.data)) : emptyScopeState();
      const { state, result } = change(current);
      const entity = { partitionKey: scopePartition, rowKey, data: JSON.stringify(scopeStateSchema.parse(state)) };
      try {
        if (row) await this.state.updateEntity(entity, 'Replace', { etag: row.etag });
        else await this.state.createEntity(entity);
        return result;
      } catch (error) {
        const status = tableStatus(error);
        if (status !== 412 && status !== 409) throw translateTableError(error);
      }
    }
    throw new SyncError('Transient', 'the breaker state of a scope kept changing; retrying decides again');
  }

  /** Puts a held write into the quarantine (again: the first time it was seen is kept). */
  async hold(entry: HeldEntry): Promise<void> {
    const partitionKey = checkedKey(encodeKey(scopeName(entry)), 'breaker scope');
    const rowKey = heldKey(entry);
    const existing = await getEntityOrUndefined<{ data: string }>(this.quarantine, partitionKey, rowKey);
    const firstSeen = existing ? heldEntrySchema.parse(JSON.parse(existing.data)).firstSeen : entry.firstSeen;
    try {
      await this.quarantine.upsertEntity({ partitionKey, rowKey, data: JSON.stringify(heldEntrySchema.parse({ ...entry, firstSeen })) }, 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
  }

  async held(scope: BreakerScope): Promise<HeldEntry[]> {
    const out: HeldEntry[] = [];
    try {
      const partition = checkedKey(encodeKey(scopeName(scope)), 'breaker scope');
      for await (const row of this.quarantine.listEntities<{ data: string }>({ queryOptions: { filter: odata`PartitionKey eq ${partition}` } })) {
        out.push(heldEntrySchema.parse(JSON.parse(row.data)));
      }
    } catch (error) {
      throw translateTableError(error);
    }
    return out.sort((a, b) => a.firstSeen.localeCompare(b.firstSeen));
  }

  /** Whether a pair has a held delete (an update of it waits, so a release still finds what it deletes). */
  async isHeld(scope: BreakerScope, dataverseId: string | undefined, exchangeId: string | undefined): Promise<boolean> {
    const row = await getEntityOrUndefined(this.quarantine, checkedKey(encodeKey(scopeName(scope)), 'breaker scope'), heldKey({ op: 'delete', dataverseId, exchangeId }));
    return row !== undefined;
  }

  async drop(entry: HeldEntry): Promise<void> {
    try {
      await this.quarantine.deleteEntity(checkedKey(encodeKey(scopeName(entry)), 'breaker scope'), heldKey(entry));
    } catch (error) {
      if (tableStatus(error) !== 404) throw translateTableError(error);
    }
  }

  async audit(entry: AuditEntry): Promise<void> {
    // Row keys in descending time order, so the newest come first when read.
    const rowKey = `${String(8_640_000_000_000_000 - Date.parse(entry.at)).padStart(16, '0')}-${randomUUID().slice(0, 8)}`;
    try {
      await this.state.createEntity({ partitionKey: auditPartition, rowKey, data: JSON.stringify(entry) });
    } catch (error) {
      throw translateTableError(error);
    }
  }

  async auditLog(limit = 50): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    try {
      for await (const row of this.state.listEntities<{ data: string }>({ queryOptions: { filter: odata`PartitionKey eq ${auditPartition}` } })) {
        out.push(JSON.parse(row.data) as AuditEntry);
        if (out.length >= limit) break;
      }
    } catch (error) {
      throw translateTableError(error);
    }
    return out;
  }
}
