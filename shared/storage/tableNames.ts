// Azure Table Storage tables the app uses (names get SYNC_TABLE_PREFIX in front, e.g. "syncPairs").

export const tableSuffixes = {
  /** Item pairing per mailbox: Dataverse id <-> Exchange id, versions, last-synced values. */
  pairs: 'Pairs',
  /** Enabled mailboxes and their state. */
  mailboxes: 'Mailboxes',
  /** Graph subscriptions with their clientState and expiry. */
  subscriptions: 'Subscriptions',
  /** Delta links, backfill checkpoints and other cursors. */
  cursors: 'Cursors',
  /** Mass-delete breaker: counts and trips per (mailbox, kind, direction), and the log of operator actions. */
  breaker: 'Breaker',
  /** Writes the breaker held (deletes, creates past the cap), waiting for an operator; ids only. */
  quarantine: 'Quarantine',
  /** The sync configuration (shared/settings/): the current settings per scope, its version, and every version's change. */
  config: 'Config',
  /** The planner's decisions per item with their reasons (shared/storage/decisionStore.ts), read by `explain`. */
  decisions: 'Decisions',
  /** Per-mailbox Graph leases (rate bucket, Retry-After) and instance heartbeats for the Dataverse budget (shared/budget/). */
  budget: 'Budget',
} as const;

export type TableKey = keyof typeof tableSuffixes;

export function tableName(prefix: string, key: TableKey): string {
  return `${prefix}${tableSuffixes[key]}`;
}
