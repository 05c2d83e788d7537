// Enabling and disabling a mailbox: who the user is on both sides, the mailbox's time zone, the Graph subscriptions
// (events, contacts) with a random clientState each, and the registry row. Idempotent: running it again reuses
// what exists and says so.
import { randomBytes } from 'node:crypto';
import { findIana } from 'windows-iana';
import { SyncError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { syncedEntities, type Mailbox } from '../storage/mailboxStore.js';
import type { SubscriptionRecord } from '../storage/subscriptionStore.js';

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

/** The URL Graph posts to: the function route with the function key (Graph cannot send headers). */
export function notificationUrl(rt: Runtime): string {
  const key = rt.settings.GRAPH_NOTIFICATION_FUNCTION_KEY;
  return `${rt.settings.WEBHOOK_BASE_URL}/graph/notifications${key ? `?code=${encodeURIComponent(key)}` : ''}`;
}

const resources: { kind: SubscriptionRecord['resourceKind']; path: (id: string) => string }[] = [
  { kind: 'events', path: (id) => `/users/${id}/events` },
  { kind: 'contacts', path: (id) => `/users/${id}/contacts` },
];

/** Creates a Graph subscription for a mailbox resource with a fresh clientState, and records it. */
export async function createSubscription(
  rt: Runtime,
  mailboxId: string,
  resourceKind: SubscriptionRecord['resourceKind'],
  resource: string,
  lifetimeMinutes = 10_080 - 60,
): Promise<SubscriptionRecord> {
  const clientState = randomBytes(32).toString('base64url');
  const url = notificationUrl(rt);
  const created = await rt.graph.createSubscription({
    changeType: 'created,updated,deleted',
    notificationUrl: url,
    lifecycleNotificationUrl: url,
    resource,
    expirationDateTime: new Date(rt.now().getTime() + lifetimeMinutes * 60_000).toISOString(),
    clientState,
  });
  if (!created.id || !created.expirationDateTime) throw new SyncError('Transient', 'Graph returned a subscription without id or expiry');
  const record: SubscriptionRecord = {
    id: created.id,
    mailboxId,
    resourceKind,
    resource,
    clientState,
    expirationDateTime: created.expirationDateTime,
    createdOn: rt.now().toISOString(),
    notificationUrl: url,
  };
  await rt.subscriptions.put(record);
  return record;
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
  for (const resource of resources) {
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
