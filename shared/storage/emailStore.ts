// What tracked and sent email needs beyond pairs, in the cursors table under partitions of its own:
// - message keys: one row per (Message-ID, direction), create-only, naming the email activity and the mailboxes whose
//   copies were seen, so the same mail received by several synced mailboxes is one activity;
// - send claims: one row per email activity being sent, create-only, so a redelivered or duplicated change never
//   sends twice (its state says how far the send got);
// - the send pace of each sender mailbox: submission times within Exchange's sending-limit window.
// All values are ids, states, counts and times: never a subject, a body or an address.
import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { SyncError } from '../errors.js';
import { checkedKey, encodeKey, getEntityOrUndefined, translateTableError } from './tables.js';

const keyPartition = 'email-key';
const sendPartition = 'email-send';
const pacePartition = 'email-pace';
const statsPartition = 'email-stats';

export const messageKeySchema = z.object({
  activityId: z.string().min(1),
  direction: z.enum(['incoming', 'outgoing']),
  /** Mailboxes whose copies are linked to the activity. */
  seenIn: z.array(z.string()),
  createdOn: z.string(),
});
export type MessageKey = z.infer<typeof messageKeySchema>;

export const sendClaimSchema = z.object({
  activityId: z.string().min(1),
  mailboxId: z.string().min(1),
  /**
   * claimed: the sync owns the send, no submission yet (a draft may exist); submitted: `send` was called, its answer
   * may be lost, so it is never called again unless the draft is still in Drafts; sent / failed: done.
   */
  state: z.enum(['claimed', 'submitted', 'sent', 'failed']),
  draftId: z.string().optional(),
  internetMessageId: z.string().optional(),
  /** Why the send failed (the rule's text and Graph's code; never the mail's content). */
  reason: z.string().max(300).optional(),
  /** Failed: whether the email was marked Failed in Dataverse (so a later Pending Send is the user sending again). */
  marked: z.boolean().optional(),
  /** The submission slot of the sender's pace this send holds (ms since the epoch). */
  slotAt: z.number().optional(),
  at: z.string(),
});
export type SendClaim = z.infer<typeof sendClaimSchema>;

/** Counts shown by status per mailbox. */
export interface EmailStats {
  tracked: number;
  sent: number;
  failed: number;
  lastFailure?: { activityId: string; reason: string; at: string } | undefined;
}

/** The row key of a message key: a hash, since a Message-ID may be up to 320 characters of any kind. */
export function messageKeyRow(normalizedMessageId: string, direction: 'incoming' | 'outgoing'): string {
  return `${createHash('sha256').update(normalizedMessageId).digest('base64url')}|${direction}`;
}

export class EmailStore {
  constructor(private readonly table: TableClient) {}

  async getKey(normalizedMessageId: string, direction: 'incoming' | 'outgoing'): Promise<(MessageKey & { etag: string }) | undefined> {
    const entity = await getEntityOrUndefined<{ data: string }>(this.table, keyPartition, messageKeyRow(normalizedMessageId, direction));
    return entity ? { ...messageKeySchema.parse(JSON.parse(entity.data)), etag: entity.etag } : undefined;
  }

  /** Create-only: AlreadyExists when another mailbox's copy claimed the key first. */
  async createKey(normalizedMessageId: string, key: MessageKey): Promise<void> {
    await this.insert(keyPartition, messageKeyRow(normalizedMessageId, key.direction), messageKeySchema.parse(key));
  }

  /** Adds a mailbox to the key's "seen in" list (conditional on the etag; a concurrent writer makes the caller read again). */
  async addSeenIn(normalizedMessageId: string, key: MessageKey & { etag: string }, mailboxId: string): Promise<void> {
    if (key.seenIn.includes(mailboxId)) return;
    const { etag, ...value } = key;
    await this.replace(keyPartition, messageKeyRow(normalizedMessageId, key.direction), { ...value, seenIn: [...value.seenIn, mailboxId] }, etag);
  }

  async getClaim(activityId: string): Promise<(SendClaim & { etag: string }) | undefined> {
    const entity = await getEntityOrUndefined<{ data: string }>(this.table, sendPartition, checkedKey(activityId.toLowerCase(), 'activity id'));
    return entity ? { ...sendClaimSchema.parse(JSON.parse(entity.data)), etag: entity.etag } : undefined;
  }

  /** Create-only: AlreadyExists when the send is claimed already (a duplicate or redelivered change). */
  async createClaim(claim: SendClaim): Promise<string> {
    return this.insert(sendPartition, checkedKey(claim.activityId.toLowerCase(), 'activity id'), sendClaimSchema.parse(claim));
  }

  /** Moves a claim on; conditional on the etag it was read with. Returns the new etag. */
  async updateClaim(claim: SendClaim, etag: string): Promise<string> {
    return this.replace(sendPartition, checkedKey(claim.activityId.toLowerCase(), 'activity id'), sendClaimSchema.parse(claim), etag);
  }

  /** Submission times (ms) of a sender mailbox within the window, with the row's etag. */
  async getPace(mailboxId: string): Promise<{ times: number[]; etag: string | undefined }> {
    const entity = await getEntityOrUndefined<{ data: string }>(this.table, pacePartition, encodeKey(mailboxId.toLowerCase()));
    if (!entity) return { times: [], etag: undefined };
    return { times: z.array(z.number()).parse(JSON.parse(entity.data)), etag: entity.etag };
  }

  /** Writes the submission times; conditional (create-only without an etag). PreconditionFailed or AlreadyExists: read again. */
  async putPace(mailboxId: string, times: readonly number[], etag: string | undefined): Promise<void> {
    const row = encodeKey(mailboxId.toLowerCase());
    if (etag) await this.replace(pacePartition, row, times, etag);
    else await this.insert(pacePartition, row, times);
  }

  async getStats(mailboxId: string): Promise<EmailStats> {
    const entity = await getEntityOrUndefined<{ data: string }>(this.table, statsPartition, encodeKey(mailboxId.toLowerCase()));
    return entity ? (JSON.parse(entity.data) as EmailStats) : { tracked: 0, sent: 0, failed: 0 };
  }

  /** Counts one outcome for status (read, add, write conditionally; a concurrent writer: try again). */
  async count(mailboxId: string, what: 'tracked' | 'sent' | 'failed', failure?: EmailStats['lastFailure']): Promise<void> {
    const row = encodeKey(mailboxId.toLowerCase());
    for (let attempt = 0; attempt < 5; attempt++) {
      const entity = await getEntityOrUndefined<{ data: string }>(this.table, statsPartition, row);
      const stats: EmailStats = entity ? (JSON.parse(entity.data) as EmailStats) : { tracked: 0, sent: 0, failed: 0 };
      stats[what] += 1;
      if (failure) stats.lastFailure = failure;
      try {
        if (entity) await this.replace(statsPartition, row, stats, entity.etag);
        else await this.insert(statsPartition, row, stats);
        return;
      } catch (error) {
        if (!(error instanceof SyncError && (error.code === 'PreconditionFailed' || error.code === 'AlreadyExists'))) throw error;
      }
    }
  }

  private async insert(partitionKey: string, rowKey: string, value: unknown): Promise<string> {
    try {
      const res = await this.table.createEntity({ partitionKey, rowKey, data: JSON.stringify(value) });
      return res.etag ?? '';
    } catch (error) {
      throw translateTableError(error);
    }
  }

  private async replace(partitionKey: string, rowKey: string, value: unknown, etag: string): Promise<string> {
    try {
      const res = await this.table.updateEntity({ partitionKey, rowKey, data: JSON.stringify(value) }, 'Replace', { etag });
      return res.etag ?? '';
    } catch (error) {
      throw translateTableError(error);
    }
  }
}
