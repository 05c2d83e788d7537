// Enabling and disabling a mailbox: who the user is on both sides, the mailbox's time zone, the Graph subscriptions
// (events, contacts) with a random clientState each, and the registry row. Enabling reads, plans the actions as data
// (planEnable, pure), then performs exactly those, so the CLI's dry run prints what a real run does. Idempotent:
// running it again keeps what exists and says so.
import { odataString } from '../odata.js';
import { SyncError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { ianaZoneOf } from '../timeZones.js';
import type { Mailbox } from '../storage/mailboxStore.js';
import type { SubscriptionKind, SubscriptionRecord } from '../storage/subscriptionStore.js';
import { defaultKindNames, handlesEmail } from '../sync/kinds/index.js';
import { createSubscription, mailboxSubscriptions, maskFunctionKey, notificationUrl } from '../sync/subscriptions.js';
import { testBeforeEnable, type MailboxTest } from './mailboxTest.js';

export interface EnableResult {
  mailbox: Mailbox;
  changes: string[];
  /** Test & Enable's checks (shared/onboarding/mailboxTest.ts), as stored. */
  test?: MailboxTest;
}

/** Converts a Graph mailbox time zone (Windows name, IANA name or UTC) to IANA. */
export function ianaTimeZone(zone: string): string {
  const iana = ianaZoneOf(zone);
  if (!iana) throw new SyncError('InvalidInput', `mailbox time zone ${JSON.stringify(zone)} is not a known Windows or IANA zone`, { field: 'timeZone', value: zone });
  return iana;
}

/** What enabling reads: the user on both sides, the mailbox's zone, its registry row and its subscriptions. */
export interface EnableInputs {
  userId: string;
  userPrincipalName: string;
  address: string;
  systemUserId: string;
  timeZone: string;
  existing?: Mailbox | undefined;
  subscriptions: SubscriptionRecord[];
  /**
   * The user's Dataverse mailbox row, read when email is asked for: who delivers its incoming and outgoing email
   * (mailbox.incomingemaildeliverymethod 0 None, 1 Outlook, 2 server-side sync, 3 forward mailbox;
   * outgoingemaildeliverymethod 0 None, 1 Outlook, 2 server-side sync:
   * https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/mailbox).
   */
  dataverseMailbox?: { mailboxId: string; incoming: number | undefined; outgoing: number | undefined } | undefined;
}

/** Delivery method value of server-side synchronization (or the Email Router) on the mailbox row. */
export const serverSideSync = 2;

/**
 * What an administrator gives up on a mailbox whose email the sync takes over: the Dynamics 365 App for Outlook needs
 * incoming email through server-side synchronization
 * (https://learn.microsoft.com/dynamics365/outlook-app/deploy-dynamics-365-app-for-outlook, Requirements), and
 * folder-level tracking works only with it (https://learn.microsoft.com/power-platform/admin/configure-outlook-exchange-folder-level-tracking).
 */
export const emailTakeOverWarning =
  'email of this mailbox is tracked and sent by this sync, not by server-side synchronization: the Dynamics 365 App for Outlook and folder-level tracking stop working for it; mail is tracked by the category only';

/** One step of enabling a mailbox, as data: the dry run prints these, a real run performs exactly these. */
export type EnableAction =
  | { type: 'keepSubscription'; subscription: SubscriptionRecord }
  | { type: 'createSubscription'; resourceKind: SubscriptionKind; resource: string; notificationUrl: string }
  /** The notification URL changed (a rotated function key, a new host name): Graph would post to the old one. */
  | { type: 'replaceSubscription'; old: SubscriptionRecord; resource: string; notificationUrl: string }
  /** A subscription of a kind the mailbox no longer syncs (email switched off). */
  | { type: 'removeSubscription'; subscription: SubscriptionRecord }
  /** Server-side sync stops delivering the mailbox's email: its delivery methods become None. */
  | { type: 'takeOverEmail'; mailboxId: string; incoming: number | undefined; outgoing: number | undefined }
  /** Said to the administrator, changes nothing. */
  | { type: 'warn'; message: string }
  | { type: 'putMailbox'; mailbox: Mailbox; previous?: Mailbox | undefined };

export interface EnablePlan {
  inputs: EnableInputs;
  /** The registry row after enabling. */
  mailbox: Mailbox;
  actions: EnableAction[];
}

/** Reads what enabling a mailbox (by UPN or object id) decides from; changes nothing. */
export async function readEnableInputs(rt: Runtime, upnOrId: string): Promise<EnableInputs> {
  await rt.ready();
  const user = await rt.graph.getUser(upnOrId);
  if (!user.id || !user.userPrincipalName) throw new SyncError('NotFound', `no user ${upnOrId} in the tenant`);
  const address = user.mail ?? user.userPrincipalName;
  const timeZone = ianaTimeZone(await rt.graph.getMailboxTimeZone(user.id));
  const byObjectId = await rt.dataverse.query('systemuser', { filter: `azureactivedirectoryobjectid eq ${user.id}`, select: ['systemuserid', 'isdisabled'], top: 1 });
  const byAddress = byObjectId.length ? byObjectId : await rt.dataverse.query('systemuser', { filter: `internalemailaddress eq ${odataString(address)}`, select: ['systemuserid', 'isdisabled'], top: 1 });
  const systemUserId = byAddress[0]?.systemuserid;
  if (typeof systemUserId !== 'string') throw new SyncError('NotFound', `no Dataverse user for ${user.userPrincipalName} (by Entra object id or e-mail address)`);
  return {
    userId: user.id,
    userPrincipalName: user.userPrincipalName,
    address,
    systemUserId: systemUserId.toLowerCase(),
    timeZone,
    existing: await rt.mailboxes.get(user.id),
    subscriptions: await rt.subscriptions.list(user.id),
    dataverseMailbox: await readDataverseMailbox(rt, systemUserId.toLowerCase()),
  };
}

async function readDataverseMailbox(rt: Runtime, systemUserId: string): Promise<EnableInputs['dataverseMailbox']> {
  const [row] = await rt.dataverse.query('mailbox', { filter: `_regardingobjectid_value eq ${systemUserId}`, select: ['mailboxid', 'incomingemaildeliverymethod', 'outgoingemaildeliverymethod'], top: 1 });
  if (typeof row?.mailboxid !== 'string') return undefined;
  const n = (v: unknown) => (typeof v === 'number' ? v : undefined);
  return { mailboxId: row.mailboxid, incoming: n(row.incomingemaildeliverymethod), outgoing: n(row.outgoingemaildeliverymethod) };
}

/** Pure: what enabling does, from what it read. A live subscription with the current notification URL is kept. */
export function planEnable(inputs: EnableInputs, options: { entities?: Mailbox['entities'] | undefined; now: Date; notificationUrl: string; takeOverEmail?: boolean }): EnablePlan {
  const actions: EnableAction[] = [];
  const now = options.now.getTime();
  const existing = inputs.existing;
  const entities = options.entities ?? existing?.entities ?? [...defaultKindNames];
  if (handlesEmail(entities)) {
    // Per mailbox and workload exactly one engine (email.md section 4): both would track and both would send.
    const dv = inputs.dataverseMailbox;
    if (!dv) throw new SyncError('NotFound', `no Dataverse mailbox row for ${inputs.userPrincipalName}: email needs one (its delivery methods say who handles its email)`);
    const held = [dv.incoming === serverSideSync ? 'incoming' : undefined, dv.outgoing === serverSideSync ? 'outgoing' : undefined].filter(Boolean);
    if (held.length > 0 && !options.takeOverEmail) {
      throw new SyncError(
        'InvalidInput',
        `the ${held.join(' and ')} email of ${inputs.userPrincipalName} is handled by server-side synchronization (Dataverse mailbox ${dv.mailboxId}); both would track and send it. Pass --take-over-email to set its delivery methods to None, knowing that ${emailTakeOverWarning}`,
        { field: '--email' },
      );
    }
    actions.push({ type: 'warn', message: emailTakeOverWarning });
    if (held.length > 0) actions.push({ type: 'takeOverEmail', mailboxId: dv.mailboxId, incoming: dv.incoming, outgoing: dv.outgoing });
  }
  for (const { kind, path, entity } of mailboxSubscriptions) {
    const resource = path(inputs.userId);
    const current = inputs.subscriptions.find((s) => s.resourceKind === kind && Date.parse(s.expirationDateTime) > now);
    if (!entities.includes(entity)) {
      for (const old of inputs.subscriptions.filter((s) => s.resourceKind === kind)) actions.push({ type: 'removeSubscription', subscription: old });
      continue;
    }
    if (!current) actions.push({ type: 'createSubscription', resourceKind: kind, resource, notificationUrl: options.notificationUrl });
    else if (current.notificationUrl === undefined || current.notificationUrl === options.notificationUrl) actions.push({ type: 'keepSubscription', subscription: current });
    else actions.push({ type: 'replaceSubscription', old: current, resource, notificationUrl: options.notificationUrl });
  }
  const mailbox: Mailbox = {
    id: inputs.userId,
    userPrincipalName: inputs.userPrincipalName,
    address: inputs.address,
    systemUserId: inputs.systemUserId,
    timeZone: inputs.timeZone,
    entities,
    state: 'active',
    ...(existing?.defaultTodoListId ? { defaultTodoListId: existing.defaultTodoListId } : {}),
  };
  actions.push({ type: 'putMailbox', mailbox, previous: existing });
  return { inputs, mailbox, actions };
}

/** The user line of a plan: who was found on both sides (ids and zone only). */
export function describeEnableInputs(inputs: EnableInputs): string {
  return `user ${inputs.userPrincipalName}: Entra object id ${inputs.userId}, Dataverse systemuserid ${inputs.systemUserId}, time zone ${inputs.timeZone}`;
}

/** One action as a line; the dry run prints it after "would", a real run prints it followed by " => " and the result. */
export function describeEnableAction(action: EnableAction): string {
  switch (action.type) {
    case 'keepSubscription':
      return `keep subscription ${action.subscription.resourceKind} ${action.subscription.id} (expires ${action.subscription.expirationDateTime})`;
    case 'createSubscription':
      return `create subscription ${action.resourceKind} on ${action.resource} -> ${maskFunctionKey(action.notificationUrl)}`;
    case 'replaceSubscription':
      return `replace subscription ${action.old.resourceKind} ${action.old.id} (its notification URL is out of date) on ${action.resource} -> ${maskFunctionKey(action.notificationUrl)}`;
    case 'removeSubscription':
      return `delete subscription ${action.subscription.resourceKind} ${action.subscription.id} (the mailbox no longer syncs it)`;
    case 'takeOverEmail':
      return `set Dataverse mailbox ${action.mailboxId} incoming and outgoing email delivery to None (was incoming ${action.incoming ?? 'unset'}, outgoing ${action.outgoing ?? 'unset'}; 2 = server-side synchronization)`;
    case 'warn':
      return `note: ${action.message}`;
    case 'putMailbox': {
      const { mailbox, previous } = action;
      if (!previous) return `register mailbox ${mailbox.userPrincipalName} (entities ${mailbox.entities.join(',')}, state active)`;
      const entities = previous.entities.join(',') === mailbox.entities.join(',') ? '' : `, entities ${previous.entities.join(',')} -> ${mailbox.entities.join(',')}`;
      return `update mailbox ${mailbox.userPrincipalName} (${previous.state} -> active${entities})`;
    }
  }
}

/** Performs a plan's actions in order; one line per action: its description, " => ", what it did. */
export async function applyEnablePlan(rt: Runtime, plan: EnablePlan): Promise<EnableResult> {
  const changes: string[] = [];
  for (const action of plan.actions) {
    const done = (result: string) => changes.push(`${describeEnableAction(action)} => ${result}`);
    switch (action.type) {
      case 'keepSubscription':
        done('kept');
        break;
      case 'warn':
        changes.push(describeEnableAction(action));
        break;
      case 'removeSubscription':
        await rt.graph.deleteSubscription(action.subscription.id).catch((error: unknown) => {
          if (!(error instanceof SyncError && error.code === 'NotFound')) throw error;
        });
        await rt.subscriptions.remove(action.subscription);
        done('deleted');
        break;
      case 'takeOverEmail':
        await rt.dataverse.update('mailbox', action.mailboxId, { incomingemaildeliverymethod: 0, outgoingemaildeliverymethod: 0 }, { ifMatch: '*' });
        done('done');
        break;
      case 'replaceSubscription': {
        await rt.graph.deleteSubscription(action.old.id);
        await rt.subscriptions.remove(action.old);
        const created = await createSubscription(rt, plan.mailbox.id, action.old.resourceKind, action.resource);
        done(`deleted; created ${created.id} (expires ${created.expirationDateTime})`);
        break;
      }
      case 'createSubscription': {
        const created = await createSubscription(rt, plan.mailbox.id, action.resourceKind, action.resource);
        done(`created ${created.id} (expires ${created.expirationDateTime})`);
        break;
      }
      case 'putMailbox':
        await rt.mailboxes.put(action.mailbox);
        done(action.previous ? 'updated' : 'registered');
        break;
    }
  }
  return { mailbox: plan.mailbox, changes };
}

/**
 * Enables sync for a mailbox (by UPN or object id): reads, plans (email refused while server-side sync handles it,
 * unless `takeOverEmail`), runs Test & Enable's checks (a refusing one stops here, unless `force`), then performs
 * the plan.
 */
export async function enableMailbox(rt: Runtime, upnOrId: string, options: { entities?: Mailbox['entities']; takeOverEmail?: boolean; force?: boolean; operator?: string } = {}): Promise<EnableResult> {
  const inputs = await readEnableInputs(rt, upnOrId);
  const plan = planEnable(inputs, { entities: options.entities, now: rt.now(), notificationUrl: notificationUrl(rt), ...(options.takeOverEmail ? { takeOverEmail: true } : {}) });
  const test = await testBeforeEnable(rt, inputs, { ...(options.force ? { force: true } : {}), ...(options.operator ? { operator: options.operator } : {}) });
  const result = await applyEnablePlan(rt, plan);
  return { ...result, test };
}

/** Disables sync for a mailbox: deletes its subscriptions; pairs are kept so enabling again links instead of duplicating. */
export async function disableMailbox(rt: Runtime, upnOrId: string): Promise<string[]> {
  await rt.ready();
  const mailbox = await rt.mailboxes.find(upnOrId);
  if (!mailbox) throw new SyncError('NotFound', `mailbox ${upnOrId} is not registered`);
  const changes: string[] = [];
  for (const sub of await rt.subscriptions.list(mailbox.id)) {
    await rt.graph.deleteSubscription(sub.id);
    await rt.subscriptions.remove(sub);
    changes.push(`subscription ${sub.resourceKind} ${sub.id} deleted`);
  }
  await rt.mailboxes.patch(mailbox.id, { state: 'disabled', stateReason: 'disabled by an administrator' });
  changes.push(`mailbox ${mailbox.userPrincipalName} disabled`);
  return changes;
}
