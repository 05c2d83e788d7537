// Decision retention (issue 16): decisions are appended per change (shared/storage/decisionStore.ts), so without a
// bound an item keeps every decision it ever had, and an item deleted long ago keeps them forever. Once a day the
// reconciliation timer starts a pass over the decisions table, one page per work message (like the mailbox sweeps:
// no call reads the whole table, and the pass spreads over the instances): per item and mailbox it keeps the last
// SYNC_DECISIONS_KEEP decisions and the last write per direction, and drops an item's decisions older than
// SYNC_DECISIONS_DROP_AFTER_DAYS once the item is no longer paired in that mailbox. The unlink records later
// creates rely on are never removed: the pair table's unlinked copies are not in this table, and the decisions
// table's own unlink marks are kept (rowsToTrim).
import type { DecisionRetention, DecisionStore, ItemId } from '../storage/decisionStore.js';
import { rowsToTrim } from '../storage/decisionStore.js';
import type { StoredPair } from '../storage/pairStore.js';

/** What the pass reads besides the decisions: whether the item is still paired in a mailbox. */
export interface RetentionPairs {
  get(mailboxId: string, dataverseId: string): Promise<StoredPair | undefined>;
  getByExchangeId(mailboxId: string, exchangeId: string): Promise<StoredPair | undefined>;
}

export interface RetentionPage {
  items: number;
  deleted: number;
  continuation?: string | undefined;
}

/** Rows a page of the pass reads at most (one Table Storage query page). */
export const retentionPageSize = 1_000;

/** How often a pass starts (the reconciliation timer checks every minute whether one is due). */
export const retentionPeriodMs = 86_400_000;

/** The cursor that remembers when the last pass started. */
export const retentionCursor = { scope: 'retention', name: 'decisions' } as const;

/** Trims one page of the decisions table; the continuation says where the next page starts (none: the pass is done). */
export async function trimDecisionPage(decisions: DecisionStore, pairs: RetentionPairs, now: Date, retention: DecisionRetention, continuation?: string): Promise<RetentionPage> {
  const page = await decisions.page({ pageSize: retentionPageSize, continuation });
  let deleted = 0;
  for (const { partitionKey, item, mailboxes } of page.items) {
    for (const [mailbox, rows] of mailboxes) {
      // What an unpaired item would lose: nothing means no pair needs reading (most items, most days).
      const ifGone = rowsToTrim(rows, false, now.getTime(), retention);
      if (ifGone.delete.length === 0 && !ifGone.unlinkedAt) continue;
      const plan = (await isPaired(pairs, mailbox, item)) ? rowsToTrim(rows, true, now.getTime(), retention) : ifGone;
      if (plan.delete.length === 0 && !plan.unlinkedAt) continue;
      await decisions.trim(partitionKey, mailbox, plan.delete, plan.unlinkedAt);
      deleted += plan.delete.length;
    }
  }
  return { items: page.items.length, deleted, continuation: page.continuation };
}

/** Whether the item is paired in the mailbox ("-", decisions that concern no mailbox, is never paired). */
async function isPaired(pairs: RetentionPairs, mailbox: string, item: ItemId): Promise<boolean> {
  if (mailbox === '-') return false;
  const pair = 'dataverseId' in item ? await pairs.get(mailbox, item.dataverseId) : await pairs.getByExchangeId(mailbox, item.exchangeId);
  return pair !== undefined;
}
