// `doctor`: checks the deployment's assumptions against the real services and reports each as pass, fail or unknown.
// Read-mostly: the only writes are its own marked probes (a Dataverse task whose id starts with the probe prefix; a
// Graph subscription whose clientState starts with the subscription probe prefix and one event in a mailbox's
// calendar named as the doctor's, each deleted again), so running it against a production tenant changes nothing
// the sync or a user owns.
import { randomBytes } from 'node:crypto';
import { constantTimeEquals } from '../constantTime.js';
import { isSyncError } from '../errors.js';
import { graphResourceOf } from '../graph/client.js';
import type { Runtime } from '../runtime.js';
import { probeTable } from '../sync/kinds/index.js';
import { ianaZoneOf } from '../timeZones.js';
import { judgeTimeZone } from '../onboarding/mailboxTest.js';
import { maskFunctionKey, notificationUrl } from '../sync/subscriptions.js';

export type DoctorStatus = 'pass' | 'fail' | 'unknown';

export interface DoctorCheck {
  code: string;
  status: DoctorStatus;
  detail: string;
}

/**
 * Ids of the doctor's probe records start with this: the Dataverse webhook handler records what the probe's webhook
 * carried (shared/webhooks/dataverseWebhook.ts) without a table read for any other record.
 */
export const probeIdPrefix = 'd0c70000-';
export const probeScope = 'doctorProbe';

export interface ProbeResult {
  tagPresent: boolean;
  at: string;
}

export const isProbeId = (id: string) => id.toLowerCase().startsWith(probeIdPrefix);

/** The Graph application permissions the sync needs (README, Deployment). */
export const requiredGraphRoles = ['Calendars.ReadWrite', 'Contacts.ReadWrite', 'Tasks.ReadWrite.All', 'MailboxSettings.Read', 'User.Read.All'];

/** The `roles` claim of an access token, or undefined when it is not a readable JWT. */
export function rolesOf(token: string): string[] | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { roles?: unknown };
    return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return undefined;
  }
}

const code = (error: unknown) => (isSyncError(error) ? error.code : 'Unknown');

async function graphPermissions(rt: Runtime): Promise<DoctorCheck> {
  try {
    const roles = rolesOf(await rt.tokens(graphResourceOf(rt.settings.GRAPH_BASE_URL)));
    if (!roles) return { code: 'graph.permissions', status: 'unknown', detail: 'the Graph token is not a readable JWT' };
    const missing = requiredGraphRoles.filter((r) => !roles.includes(r) && !(r === 'MailboxSettings.Read' && roles.includes('MailboxSettings.ReadWrite')));
    return missing.length === 0 ? { code: 'graph.permissions', status: 'pass', detail: `roles ${requiredGraphRoles.join(', ')} granted` } : { code: 'graph.permissions', status: 'fail', detail: `missing application permissions: ${missing.join(', ')}` };
  } catch (error) {
    return { code: 'graph.permissions', status: 'fail', detail: `no Graph token: ${code(error)}` };
  }
}

/** Per registered mailbox: the app can read it (application access policy / RBAC scope) and its zone is as stored. */
async function mailboxChecks(rt: Runtime): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  const mailboxes = (await rt.mailboxes.list()).filter((m) => m.state !== 'disabled');
  if (mailboxes.length === 0) return [{ code: 'graph.accessPolicy', status: 'unknown', detail: 'no mailbox is enabled' }];
  for (const m of mailboxes) {
    try {
      const zone = await rt.graph.getMailboxTimeZone(m.id);
      out.push({ code: 'graph.accessPolicy', status: 'pass', detail: `${m.userPrincipalName}: mailbox readable` });
      const iana = ianaZoneOf(zone);
      out.push(iana === m.timeZone ? { code: 'timeZone', status: 'pass', detail: `${m.userPrincipalName}: ${m.timeZone}` } : { code: 'timeZone', status: 'fail', detail: `${m.userPrincipalName}: the mailbox is in ${iana ?? zone}, the registry says ${m.timeZone} (run mailbox enable again)` });
    } catch (error) {
      out.push({ code: 'graph.accessPolicy', status: 'fail', detail: `${m.userPrincipalName}: ${code(error)} reading the mailbox (an application access policy or RBAC scope may exclude it)` });
    }
    const subs = await rt.subscriptions.list(m.id);
    const live = subs.filter((s) => Date.parse(s.expirationDateTime) > rt.now().getTime());
    out.push(live.length > 0 ? { code: 'graph.subscriptions', status: 'pass', detail: `${m.userPrincipalName}: ${live.length} live subscription(s)` } : { code: 'graph.subscriptions', status: 'fail', detail: `${m.userPrincipalName}: no live subscription (run mailbox enable again)` });
  }
  return out;
}

/**
 * The privileges the sync's security role must grant the application user (docs/deploy.md step 3), all at
 * Organization depth (Global in RolePrivilege.Depth): change tracking cannot be filtered by owner.
 */
export const requiredDataversePrivileges: readonly string[] = [
  ...['Activity', 'Contact'].flatMap((t) => ['Create', 'Read', 'Write', 'Delete', 'Append', 'AppendTo'].map((a) => `prv${a}${t}`)),
  'prvReadAccount',
  'prvAppendToAccount',
  'prvReadLead',
  'prvAppendToLead',
  'prvReadUser',
  'prvActOnBehalfOfAnotherUser',
];

/** Pure: which required privileges a user lacks, or holds below Organization (Global) depth. */
export function missingPrivileges(held: readonly { name: string; depth: string }[]): string[] {
  const depth = new Map(held.map((p) => [p.name.toLowerCase(), p.depth]));
  return requiredDataversePrivileges.flatMap((name) => {
    const d = depth.get(name.toLowerCase());
    if (d === undefined) return [name];
    return d === 'Global' ? [] : [`${name} (${d}, needs Organization)`];
  });
}

async function dataverseUser(rt: Runtime): Promise<DoctorCheck[]> {
  let userId: string;
  try {
    userId = (await rt.dataverse.whoAmI()).UserId.toLowerCase();
  } catch (error) {
    return [{ code: 'dataverse.applicationUser', status: 'fail', detail: `WhoAmI failed: ${code(error)}` }];
  }
  const checks: DoctorCheck[] = [{ code: 'dataverse.applicationUser', status: 'pass', detail: `application user ${userId}` }];
  try {
    const missing = missingPrivileges(await rt.dataverse.retrieveUserPrivileges(userId));
    checks.push(
      missing.length === 0
        ? { code: 'dataverse.privileges', status: 'pass', detail: `the ${requiredDataversePrivileges.length} privileges of the sync's role are held at Organization depth` }
        : { code: 'dataverse.privileges', status: 'fail', detail: `missing: ${missing.join(', ')} (docs/deploy.md step 3)` },
    );
  } catch (error) {
    checks.push({ code: 'dataverse.privileges', status: 'unknown', detail: `RetrieveUserPrivileges failed: ${code(error)}` });
  }
  return checks;
}

/** Per enabled mailbox: the Dataverse user's own time zone against the mailbox's (Test & Enable's check). */
async function userTimeZones(rt: Runtime): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  for (const m of (await rt.mailboxes.list()).filter((x) => x.state !== 'disabled')) {
    try {
      const settings = await rt.dataverse.get('usersettings', m.systemUserId, { select: ['systemuserid', 'timezonecode'] });
      const result = judgeTimeZone(typeof settings?.timezonecode === 'number' ? settings.timezonecode : undefined, m.timeZone);
      out.push({ code: 'dataverse.timeZone', status: result.status === 'Success' ? 'pass' : 'fail', detail: `${m.userPrincipalName}: ${result.detail}` });
    } catch (error) {
      out.push({ code: 'dataverse.timeZone', status: 'unknown', detail: `${m.userPrincipalName}: usersettings not readable: ${code(error)}` });
    }
  }
  return out;
}

/**
 * The webhook tag round trip: a write with the sync's tag (as every write of the sync) of the doctor's own probe
 * record, and whether its webhook body carries the tag, as the echo suppression first assumes. Without it the
 * version check (shared/sync/versions.ts) and the initiating user carry the suppression.
 */
async function tagRoundTrip(rt: Runtime, options: { waitMs: number; sleep: (ms: number) => Promise<void> }): Promise<DoctorCheck[]> {
  const id = `${probeIdPrefix}${randomBytes(2).toString('hex')}-${randomBytes(2).toString('hex')}-${randomBytes(2).toString('hex')}-${randomBytes(6).toString('hex')}`;
  const checks: DoctorCheck[] = [];
  try {
    await rt.dataverse.create(probeTable, id, { subject: 'dataverse-exchange-sync doctor probe (deleted again at once)' });
  } catch (error) {
    return [{ code: 'dataverse.webhookTag', status: 'unknown', detail: `the probe task could not be created: ${code(error)}` }];
  }
  try {
    const deadline = Date.now() + options.waitMs;
    let result: ProbeResult | undefined;
    while (!result && Date.now() < deadline) {
      result = await rt.cursors.get<ProbeResult>(probeScope, id);
      if (!result) await options.sleep(250);
    }
    if (!result) checks.push({ code: 'dataverse.webhookTag', status: 'unknown', detail: `no webhook for the probe arrived within ${options.waitMs} ms (are the steps registered? dataverse register-webhooks)` });
    else if (result.tagPresent) checks.push({ code: 'dataverse.webhookTag', status: 'pass', detail: "the webhook body carries the sync's tag: echoes are dropped before they are queued" });
    else checks.push({ code: 'dataverse.webhookTag', status: 'fail', detail: "the webhook body does not carry the sync's tag: the version check (and the initiating user) carry echo suppression" });
  } finally {
    await rt.dataverse.delete(probeTable, id).catch(() => undefined);
    await rt.cursors.remove(probeScope, id).catch(() => undefined);
  }
  return checks;
}

/**
 * clientStates of the doctor's probe subscriptions start with this, so the notification handler looks a probe up
 * (one cursor read) only for notifications that claim to be one (shared/webhooks/graphNotifications.ts).
 */
export const subscriptionProbePrefix = 'doctor-probe.';
export const subscriptionProbeScope = 'doctorSubscriptionProbe';

/** A probe subscription as the doctor registered it, and what its first notification said. */
export interface SubscriptionProbe {
  clientState: string;
  /** Set by the notification handler when an authentic notification for the probe event arrived. */
  notified?: { at: string; changeType: string; itemId: string } | undefined;
}

export const isSubscriptionProbeState = (clientState: string | null | undefined) => typeof clientState === 'string' && clientState.startsWith(subscriptionProbePrefix);

/** Probe subscriptions ask for an hour: above Graph's minimum, and deleted again at once (never renewed). */
const probeSubscriptionMinutes = 60;

/**
 * The subscription round trip on one active mailbox: a marked probe subscription on its events (Graph creates it only
 * after the notification URL answered the validation handshake,
 * https://learn.microsoft.com/graph/change-notifications-delivery-webhooks#notificationurl-validation), then a marked
 * event whose notification must reach the webhook and be authenticated by the probe's clientState. The event has
 * no attendees (nothing is sent) and no tracking category (the sync ignores it); both are deleted again.
 */
async function subscriptionRoundTrip(rt: Runtime, options: { waitMs: number; sleep: (ms: number) => Promise<void> }): Promise<DoctorCheck[]> {
  const mailbox = (await rt.mailboxes.list()).find((m) => m.state === 'active');
  if (!mailbox) return [{ code: 'graph.subscriptionRoundTrip', status: 'unknown', detail: 'no active mailbox to probe' }];
  const url = notificationUrl(rt);
  const clientState = `${subscriptionProbePrefix}${randomBytes(24).toString('base64url')}`;
  let subscriptionId: string;
  try {
    const created = await rt.graph.createSubscription({
      changeType: 'created',
      notificationUrl: url,
      resource: `/users/${mailbox.id}/events`,
      expirationDateTime: new Date(rt.now().getTime() + probeSubscriptionMinutes * 60_000).toISOString(),
      clientState,
    });
    if (!created.id) throw new Error('no id');
    subscriptionId = created.id;
  } catch (error) {
    const status = isSyncError(error) ? ` ${error.status ?? ''} ${error.serviceCode ?? ''}`.trimEnd() : '';
    return [{ code: 'graph.subscriptionValidation', status: 'fail', detail: `${mailbox.userPrincipalName}: Graph did not create the probe subscription (${code(error)}${status}): does ${maskFunctionKey(url)} answer Graph's validation request?` }];
  }
  const checks: DoctorCheck[] = [{ code: 'graph.subscriptionValidation', status: 'pass', detail: `${mailbox.userPrincipalName}: Graph validated ${maskFunctionKey(url)} and created the probe subscription` }];
  let eventId: string | undefined;
  try {
    await rt.cursors.set(subscriptionProbeScope, subscriptionId, { clientState } satisfies SubscriptionProbe);
    const start = new Date(rt.now().getTime() + 30 * 86_400_000);
    start.setUTCMinutes(0, 0, 0);
    const event = await rt.graph.createEvent(
      mailbox.id,
      {
        subject: 'dataverse-exchange-sync doctor probe (deleted again at once)',
        start: { dateTime: start.toISOString().slice(0, 19), timeZone: 'UTC' },
        end: { dateTime: new Date(start.getTime() + 15 * 60_000).toISOString().slice(0, 19), timeZone: 'UTC' },
        showAs: 'free',
        isReminderOn: false,
      },
      `doctor-${randomBytes(8).toString('hex')}`,
    );
    eventId = event.id;
    const deadline = Date.now() + options.waitMs;
    let probe = await rt.cursors.get<SubscriptionProbe>(subscriptionProbeScope, subscriptionId);
    while (!probe?.notified && Date.now() < deadline) {
      await options.sleep(250);
      probe = await rt.cursors.get<SubscriptionProbe>(subscriptionProbeScope, subscriptionId);
    }
    if (probe?.notified && (eventId === undefined || probe.notified.itemId === eventId)) {
      checks.push({ code: 'graph.subscriptionRoundTrip', status: 'pass', detail: `${mailbox.userPrincipalName}: the notification for the probe event (${probe.notified.changeType}) reached the webhook with the probe's clientState` });
    } else {
      checks.push({ code: 'graph.subscriptionRoundTrip', status: 'unknown', detail: `${mailbox.userPrincipalName}: no notification for the probe event arrived within ${options.waitMs} ms (Graph may be late; or notifications do not reach ${maskFunctionKey(url)})` });
    }
  } catch (error) {
    checks.push({ code: 'graph.subscriptionRoundTrip', status: 'unknown', detail: `${mailbox.userPrincipalName}: the probe event could not be created: ${code(error)}` });
  } finally {
    if (eventId) await rt.graph.deleteEvent(mailbox.id, eventId).catch(() => undefined);
    await rt.graph.deleteSubscription(subscriptionId).catch(() => undefined);
    await rt.cursors.remove(subscriptionProbeScope, subscriptionId).catch(() => undefined);
  }
  return checks;
}

/**
 * Records that an authentic notification reached a probe subscription (called by the Graph notification handler for
 * a clientState with the probe prefix). False when it is no probe of ours or its clientState is wrong: the handler
 * then rejects it as any unknown subscription's.
 */
export async function recordSubscriptionProbe(rt: Pick<Runtime, 'cursors' | 'now'>, subscriptionId: string, clientState: string, notification: { changeType: string; itemId: string }): Promise<boolean> {
  const probe = await rt.cursors.get<SubscriptionProbe>(subscriptionProbeScope, subscriptionId);
  if (!probe || !constantTimeEquals(probe.clientState, clientState)) return false;
  if (!probe.notified) await rt.cursors.set(subscriptionProbeScope, subscriptionId, { ...probe, notified: { at: rt.now().toISOString(), ...notification } } satisfies SubscriptionProbe);
  return true;
}

/** Runs every check. */
export async function runDoctor(rt: Runtime, options: { waitMs?: number; sleep?: (ms: number) => Promise<void> } = {}): Promise<DoctorCheck[]> {
  await rt.ready();
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const wait = { waitMs: options.waitMs ?? 30_000, sleep };
  return [
    await graphPermissions(rt),
    ...(await mailboxChecks(rt)),
    ...(await subscriptionRoundTrip(rt, wait)),
    ...(await dataverseUser(rt)),
    ...(await userTimeZones(rt)),
    ...(await tagRoundTrip(rt, wait)),
  ];
}

/** Records what a probe's webhook carried (called by the webhook handler for probe ids only). */
export async function recordProbe(rt: Runtime, recordId: string, tagPresent: boolean): Promise<void> {
  await rt.cursors.set(probeScope, recordId.toLowerCase(), { tagPresent, at: rt.now().toISOString() } satisfies ProbeResult);
}
