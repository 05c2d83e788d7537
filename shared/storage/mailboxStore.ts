// The mailbox registry: each enabled mailbox with its identities on both sides, its time zone, what it syncs, and
// its state. The worker reads it to decide scope (which mailboxes a Dataverse record reaches).
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { SyncError } from '../errors.js';
import { kindNames } from '../sync/kinds/index.js';
import { checkedKey, getEntityOrUndefined, translateTableError } from './tables.js';

export const mailboxStates = ['backfilling', 'active', 'degraded', 'disabled'] as const;
export type MailboxState = (typeof mailboxStates)[number];
/** What a mailbox may sync: the kinds of shared/sync/kinds/. */
export const syncedEntities = kindNames;

export const mailboxSchema = z.object({
  /** Entra object id of the user (Graph /users/{id}). */
  id: z.string().min(1),
  userPrincipalName: z.string().min(3),
  /** Primary SMTP address. */
  address: z.string().min(3),
  /** systemuserid of the same person in Dataverse. */
  systemUserId: z.string().min(1),
  /** IANA time zone of the mailbox (from Graph mailboxSettings). */
  timeZone: z.string().min(1),
  entities: z.array(z.enum(syncedEntities)),
  state: z.enum(mailboxStates),
  stateReason: z.string().optional(),
  /** Default To Do list, where Dataverse tasks are created. */
  defaultTodoListId: z.string().optional(),
  updatedOn: z.string().optional(),
});
export type Mailbox = z.infer<typeof mailboxSchema>;

const partition = 'mailbox';

export class MailboxStore {
  private cache: { at: number; list: Mailbox[] } | undefined;

  constructor(
    private readonly table: TableClient,
    private readonly cacheMs = 15_000,
  ) {}

  async get(id: string): Promise<Mailbox | undefined> {
    const entity = await getEntityOrUndefined<{ data: string }>(this.table, partition, checkedKey(id.toLowerCase(), 'mailbox id'));
    return entity ? mailboxSchema.parse(JSON.parse(entity.data)) : undefined;
  }

  /** Creates or replaces a mailbox row. */
  async put(mailbox: Mailbox): Promise<void> {
    const data = mailboxSchema.parse({ ...mailbox, updatedOn: new Date().toISOString() });
    try {
      await this.table.upsertEntity({ partitionKey: partition, rowKey: checkedKey(data.id.toLowerCase(), 'mailbox id'), data: JSON.stringify(data), state: data.state }, 'Replace');
    } catch (error) {
      throw translateTableError(error);
    }
    this.cache = undefined;
  }

  /**
   * Changes some fields of a mailbox row without overwriting concurrent changes to the others: read, merge,
   * replace conditional on the row's etag, and start over when someone else wrote in between.
   */
  async patch(id: string, fields: Partial<Omit<Mailbox, 'id'>>): Promise<Mailbox | undefined> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const entity = await getEntityOrUndefined<{ data: string }>(this.table, partition, checkedKey(id.toLowerCase(), 'mailbox id'));
      if (!entity) return undefined;
      const next = mailboxSchema.parse({ ...mailboxSchema.parse(JSON.parse(entity.data)), ...fields, updatedOn: new Date().toISOString() });
      try {
        await this.table.updateEntity({ partitionKey: partition, rowKey: next.id.toLowerCase(), data: JSON.stringify(next), state: next.state }, 'Replace', { etag: entity.etag });
        this.cache = undefined;
        return next;
      } catch (error) {
        const translated = translateTableError(error);
        if (!(translated instanceof SyncError && translated.code === 'PreconditionFailed')) throw translated;
      }
    }
    throw new SyncError('PreconditionFailed', `mailbox ${id} kept changing; could not update it`);
  }

  /** Every registered mailbox (cached briefly: the registry changes rarely and is read for every change). */
  async list(options: { fresh?: boolean } = {}): Promise<Mailbox[]> {
    if (!options.fresh && this.cache && Date.now() - this.cache.at < this.cacheMs) return this.cache.list;
    const list: Mailbox[] = [];
    try {
      for await (const row of this.table.listEntities<{ data: string }>({ queryOptions: { filter: odata`PartitionKey eq ${partition}` } })) {
        list.push(mailboxSchema.parse(JSON.parse(row.data)));
      }
    } catch (error) {
      throw translateTableError(error);
    }
    this.cache = { at: Date.now(), list };
    return list;
  }

  /** Mailboxes that sync (not disabled), by Dataverse systemuserid. */
  async enabledBySystemUser(): Promise<Map<string, Mailbox>> {
    const map = new Map<string, Mailbox>();
    for (const m of await this.list()) if (m.state !== 'disabled') map.set(m.systemUserId.toLowerCase(), m);
    return map;
  }

  /** An enabled mailbox by Entra object id or by SMTP address / UPN. */
  async findEnabled(idOrAddress: string): Promise<Mailbox | undefined> {
    const key = idOrAddress.toLowerCase();
    return (await this.list()).find(
      (m) => m.state !== 'disabled' && (m.id.toLowerCase() === key || m.address.toLowerCase() === key || m.userPrincipalName.toLowerCase() === key),
    );
  }
}
