// Enabling and disabling a mailbox: who the user is on both sides, the mailbox's time zone, the Graph subscriptions
// (events, contacts) with a random clientState each, and the registry row. Idempotent: running it again reuses
// what exists and says so.
import { findIana } from 'windows-iana';
import { SyncError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { syncedEntities, type Mailbox } from '../storage/mailboxStore.js';
import { createSubscription, mailboxSubscriptions, notificationUrl } from '../sync/subscriptions.js';

export interface EnableResult {
  mailbox: Mailbox;
  changes: string[];
}

/** Converts a Graph mailbox time zone (Windows name, IANA name or UTC) to IANA. */
export function ianaTimeZone(zone: string): string {
  if (zone === 'UTC' || zone === 'tzone://Microsoft/Utc') return 'UTC';
  if (zone.includes('/')) return zone;
  const iana = findIana(zone)[0];
  if (!iana) throw new SyncError('InvalidInput', `mailbox time zone ${JSON.stringify(zone)} is not a known Windows or IANA zone`, { field: 'timeZone', value: zone });
  return iana;
}

/** Enables sync for a mailbox (by UPN or object id). */
export async function enableMailbox(rt: Runtime, upnOrId: string, options: { entities?: Mailbox['entities'] } = {}): Promise<EnableResult> {
  await rt.ready();
  const changes: string[] = [];
  const user = await rt.graph.getUser(upnOrId);
  if (!user.id || !user.userPrincipalName) throw new SyncError('NotFound', `no user ${upnOrId} in the tenant`);
  const address = user.mail ?? user.userPrincipalName;
  const timeZone = ianaTimeZone(await rt.graph.getMailboxTimeZone(user.id));
  const byObjectId = await rt.dataverse.query('systemuser', { filter: `azureactivedirectoryobjectid eq ${user.id}`, select: ['systemuserid', 'isdisabled'], top: 1 });
  const byAddress = byObjectId.length ? byObjectId : await rt.dataverse.query('systemuser', { filter: `internalemailaddress eq '${address.replace(/'/g, "''")}'`, select: ['systemuserid', 'isdisabled'], top: 1 });
  const systemUserId = byAddress[0]?.systemuserid;
  if (typeof systemUserId !== 'string') throw new SyncError('NotFound', `no Dataverse user for ${user.userPrincipalName} (by Entra object id or e-mail address)`);
  const existing = await rt.mailboxes.get(user.id);
  const entities = options.entities ?? existing?.entities ?? [...syncedEntities];
  const subscriptions = await rt.subscriptions.list(user.id);
  const now = rt.now().getTime();
  const url = notificationUrl(rt);
  for (const resource of mailboxSubscriptions) {
    const current = subscriptions.find((s) => s.resourceKind === resource.kind && Date.parse(s.expirationDateTime) > now);
    if (current && (current.notificationUrl === undefined || current.notificationUrl === url)) {
      changes.push(`subscription ${resource.kind} ${current.id} kept (expires ${current.expirationDateTime})`);
      continue;
    }
    if (current) {
      // The notification URL changed (a rotated function key, a new host name): Graph would post to the old one.
      await rt.graph.deleteSubscription(current.id);
      await rt.subscriptions.remove(current.id);
      changes.push(`subscription ${resource.kind} ${current.id} deleted (its notification URL is out of date)`);
    }
    const created = await createSubscription(rt, user.id, resource.kind, resource.path(user.id));
    changes.push(`subscription ${resource.kind} ${created.id} created (expires ${created.expirationDateTime})`);
  }
  const mailbox: Mailbox = {
    id: user.id,
    userPrincipalName: user.userPrincipalName,
    address,
    systemUserId: systemUserId.toLowerCase(),
    timeZone,
    entities,
    state: 'active',
    ...(existing?.defaultTodoListId ? { defaultTodoListId: existing.defaultTodoListId } : {}),
  };
  await rt.mailboxes.put(mailbox);
  changes.push(existing ? `mailbox ${user.userPrincipalName} updated (${existing.state} -> active)` : `mailbox ${user.userPrincipalName} registered`);
  return { mailbox, changes };
}

/** Disables sync for a mailbox: deletes its subscriptions; pairs are kept so enabling again links instead of duplicating. */
export async function disableMailbox(rt: Runtime, upnOrId: string): Promise<string[]> {
  await rt.ready();
  const mailbox = (await rt.mailboxes.list({ fresh: true })).find((m) => m.id === upnOrId || m.userPrincipalName.toLowerCase() === upnOrId.toLowerCase());
  if (!mailbox) throw new SyncError('NotFound', `mailbox ${upnOrId} is not registered`);
  const changes: string[] = [];
  for (const sub of await rt.subscriptions.list(mailbox.id)) {
    await rt.graph.deleteSubscription(sub.id);
    await rt.subscriptions.remove(sub.id);
    changes.push(`subscription ${sub.resourceKind} ${sub.id} deleted`);
  }
  await rt.mailboxes.patch(mailbox.id, { state: 'disabled', stateReason: 'disabled by an administrator' });
  changes.push(`mailbox ${mailbox.userPrincipalName} disabled`);
  return changes;
}
