// Change-notification subscriptions (GDC api-reference/v1.0/resources/subscription.md,
// api/subscription-post-subscriptions.md, concepts/change-notifications-lifecycle-events.md; docs/reference/platform-facts.md sections 1
// and 8): creation validates both endpoints with the validationToken handshake (10 s), caps the lifetime per
// resource, refuses app-only subscriptions to To Do tasks; changes fan out to matching subscriptions as basic
// notifications shaped as samples/graph-change-notification-basic.json; subscriptions expire with the clock.
import { z } from 'zod';
import type { TimeSource } from './clock.js';
import type { FaultInjector } from './faults.js';
import { GraphError } from './graphError.js';
import type { Notifier, PendingNotification } from './notifier.js';
import type { GraphSimLimits, NotificationPolicy } from './options.js';
import type { Prng } from './prng.js';
import { utcTimestamp7 } from './timeZones.js';
import type { ChangeNotice, World } from './world.js';

export type SubscribableKind = 'event' | 'contact' | 'message' | 'todoTask';
export type LifecycleEvent = 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';

/** A stored subscription. */
export interface SubscriptionRecord {
  id: string;
  resource: string;
  kind: SubscribableKind;
  userId: string;
  /** Contact folder or mail folder the resource is limited to. */
  folderId?: string;
  changeTypes: Set<string>;
  changeType: string;
  clientState: string | null;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  expiration: number;
  applicationId: string;
  creatorId: string;
  latestSupportedTlsVersion: string;
  notificationQueryOptions: string | null;
  notificationUrlAppId: string | null;
}

/** The calling app, from its token. */
export interface AppIdentity {
  appId: string;
  servicePrincipalId: string;
  roles: ReadonlySet<string>;
}

const createInput = z.object({
  changeType: z.string().min(1, 'changeType is required'),
  notificationUrl: z.string().min(1, 'notificationUrl is required'),
  lifecycleNotificationUrl: z.string().nullable().optional(),
  resource: z.string().min(1, 'resource is required'),
  expirationDateTime: z.string().min(1, 'expirationDateTime is required'),
  clientState: z.string().max(128, 'clientState is at most 128 characters').nullable().optional(),
  latestSupportedTlsVersion: z.enum(['v1_0', 'v1_1', 'v1_2', 'v1_3']).nullable().optional(),
  includeResourceData: z.boolean().nullable().optional(),
  encryptionCertificate: z.string().nullable().optional(),
  encryptionCertificateId: z.string().nullable().optional(),
  notificationQueryOptions: z.string().nullable().optional(),
  notificationUrlAppId: z.string().nullable().optional(),
});

const READ_ROLES: Record<SubscribableKind, string[]> = {
  event: ['Calendars.Read', 'Calendars.ReadWrite', 'Calendars.ReadBasic'],
  contact: ['Contacts.Read', 'Contacts.ReadWrite'],
  message: ['Mail.Read', 'Mail.ReadWrite', 'Mail.ReadBasic', 'Mail.ReadBasic.All'],
  todoTask: ['Tasks.Read.All', 'Tasks.ReadWrite.All'],
};
const NOTIFICATION_TYPE: Record<string, { type: string; segment: string }> = {
  event: { type: '#Microsoft.Graph.Event', segment: 'Events' },
  contact: { type: '#Microsoft.Graph.Contact', segment: 'Contacts' },
  message: { type: '#Microsoft.Graph.Message', segment: 'Messages' },
};

const extensionError = (status: number, reason: string) => new GraphError(status, 'ExtensionError', `Operation: Create; Exception: [Status Code: ${status === 403 ? 'Forbidden' : status === 404 ? 'NotFound' : 'BadRequest'}; Reason: ${reason}]`);

/** Owns subscriptions, their handshake, expiry and the fan-out of changes into notifications. */
export class SubscriptionManager {
  private readonly subs = new Map<string, SubscriptionRecord>();
  private readonly byUser = new Map<string, Set<string>>();

  constructor(
    private readonly world: World,
    private readonly clock: TimeSource,
    private readonly prng: Prng,
    private limits: GraphSimLimits,
    private policy: NotificationPolicy,
    private readonly notifier: Notifier,
    private readonly faults: FaultInjector,
    private readonly enforcePermissions: boolean,
  ) {
    world.onChange((c) => this.onChange(c));
  }

  configure(limits: GraphSimLimits, policy: NotificationPolicy): void {
    this.limits = limits;
    this.policy = policy;
  }

  reset(): void {
    this.subs.clear();
    this.byUser.clear();
  }

  /** POST /subscriptions. */
  async create(body: unknown, app: AppIdentity): Promise<SubscriptionRecord> {
    const parsed = createInput.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new GraphError(400, 'InvalidRequest', `Invalid subscription: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
    }
    const input = parsed.data;
    if (input.includeResourceData) throw new GraphError(400, 'InvalidRequest', 'Rich notifications (includeResourceData) are not simulated; subscribe without resource data.');
    const target = this.parseResource(input.resource);
    if (target.kind === 'todoTask') {
      // Application permissions cannot subscribe to todoTask (docs/reference/platform-facts.md section 8; subscription-post-subscriptions.md).
      throw extensionError(403, 'Application permissions are not supported for todoTask subscriptions. Subscriptions to To Do tasks need delegated permissions (Tasks.ReadWrite).');
    }
    if (this.enforcePermissions && !READ_ROLES[target.kind].some((r) => app.roles.has(r))) {
      throw extensionError(403, `The application does not have any of the permissions ${READ_ROLES[target.kind].join(', ')} required to subscribe to ${input.resource}.`);
    }
    const changeTypes = parseChangeTypes(input.changeType);
    checkUrl(input.notificationUrl, 'notificationUrl');
    if (input.lifecycleNotificationUrl) checkUrl(input.lifecycleNotificationUrl, 'lifecycleNotificationUrl');
    const expiration = this.checkExpiration(input.expirationDateTime, target.kind);
    this.sweep();
    if ((this.byUser.get(target.userId)?.size ?? 0) >= this.limits.subscriptionsPerMailbox) {
      throw extensionError(403, `The mailbox has reached the limit of ${this.limits.subscriptionsPerMailbox} subscriptions.`);
    }
    await this.validate(input.notificationUrl);
    if (input.lifecycleNotificationUrl) await this.validate(input.lifecycleNotificationUrl);
    const sub: SubscriptionRecord = {
      id: this.prng.guid(),
      resource: input.resource,
      kind: target.kind,
      userId: target.userId,
      ...(target.folderId ? { folderId: target.folderId } : {}),
      changeTypes,
      changeType: input.changeType,
      clientState: input.clientState ?? null,
      notificationUrl: input.notificationUrl,
      lifecycleNotificationUrl: input.lifecycleNotificationUrl ?? null,
      expiration,
      applicationId: app.appId,
      creatorId: app.servicePrincipalId,
      latestSupportedTlsVersion: input.latestSupportedTlsVersion ?? 'v1_2',
      notificationQueryOptions: input.notificationQueryOptions ?? null,
      notificationUrlAppId: input.notificationUrlAppId ?? null,
    };
    this.subs.set(sub.id, sub);
    let set = this.byUser.get(sub.userId);
    if (!set) {
      set = new Set();
      this.byUser.set(sub.userId, set);
    }
    set.add(sub.id);
    return sub;
  }

  /** The subscription if this app owns it and it has not expired; 404 otherwise. */
  get(id: string, app: AppIdentity | undefined): SubscriptionRecord {
    this.sweep();
    const sub = this.subs.get(id);
    if (!sub || (app && sub.applicationId !== app.appId)) throw new GraphError(404, 'ResourceNotFound', `The object was not found. Subscription '${id}' does not exist or has expired.`);
    return sub;
  }

  list(app: AppIdentity | undefined): SubscriptionRecord[] {
    this.sweep();
    return [...this.subs.values()].filter((s) => !app || s.applicationId === app.appId);
  }

  /** PATCH /subscriptions/{id}: renew (and optionally move the notificationUrl, validated again). */
  async update(id: string, body: unknown, app: AppIdentity): Promise<SubscriptionRecord> {
    const sub = this.get(id, app);
    const input = z
      .object({ expirationDateTime: z.string().optional(), notificationUrl: z.string().optional(), lifecycleNotificationUrl: z.unknown().optional() })
      .safeParse(body);
    if (!input.success) throw new GraphError(400, 'InvalidRequest', 'Invalid subscription update body.');
    if (input.data.lifecycleNotificationUrl !== undefined) {
      throw new GraphError(400, 'InvalidRequest', 'lifecycleNotificationUrl can only be set when the subscription is created.');
    }
    if (input.data.expirationDateTime) sub.expiration = this.checkExpiration(input.data.expirationDateTime, sub.kind);
    if (input.data.notificationUrl) {
      checkUrl(input.data.notificationUrl, 'notificationUrl');
      await this.validate(input.data.notificationUrl);
      sub.notificationUrl = input.data.notificationUrl;
    }
    return sub;
  }

  delete(id: string, app: AppIdentity | undefined): void {
    const sub = this.get(id, app);
    this.drop(sub);
  }

  /** POST /subscriptions/{id}/reauthorize: 204, lifetime unchanged. */
  reauthorize(id: string, app: AppIdentity): void {
    this.get(id, app);
  }

  /** Removes subscriptions whose expirationDateTime has passed (Graph deletes them silently). */
  sweep(): number {
    const now = this.clock.now();
    let n = 0;
    for (const sub of this.subs.values()) {
      if (sub.expiration <= now) {
        this.drop(sub);
        n += 1;
      }
    }
    return n;
  }

  /** Sends a lifecycle notification (samples/graph-lifecycle-notification-*.json); subscriptionRemoved also removes it. */
  lifecycle(id: string, event: LifecycleEvent): boolean {
    const sub = this.get(id, undefined);
    if (event === 'subscriptionRemoved') this.drop(sub);
    return this.sendLifecycle(sub, event);
  }

  /** Drops a subscription as if it expired (no lifecycle notification). */
  expire(id: string): void {
    this.drop(this.get(id, undefined));
  }

  render(sub: SubscriptionRecord, baseUrl: string): Record<string, unknown> {
    return {
      '@odata.context': `${baseUrl}/v1.0/$metadata#subscriptions/$entity`,
      id: sub.id,
      resource: sub.resource,
      applicationId: sub.applicationId,
      changeType: sub.changeType,
      clientState: sub.clientState,
      notificationUrl: sub.notificationUrl,
      notificationQueryOptions: sub.notificationQueryOptions,
      lifecycleNotificationUrl: sub.lifecycleNotificationUrl,
      expirationDateTime: utcTimestamp7(sub.expiration),
      creatorId: sub.creatorId,
      includeResourceData: false,
      latestSupportedTlsVersion: sub.latestSupportedTlsVersion,
      encryptionCertificate: null,
      encryptionCertificateId: null,
      notificationUrlAppId: sub.notificationUrlAppId,
      notificationContentType: 'application/json',
    };
  }

  private drop(sub: SubscriptionRecord): void {
    this.subs.delete(sub.id);
    this.byUser.get(sub.userId)?.delete(sub.id);
  }

  private sendLifecycle(sub: SubscriptionRecord, event: LifecycleEvent): boolean {
    if (!sub.lifecycleNotificationUrl) return false;
    // Key order as the reauthorizationRequired sample; lifecycle notifications carry no resource (lifecycle-events.md).
    this.notifier.enqueue(sub.lifecycleNotificationUrl, {
      subscriptionId: sub.id,
      lifecycle: true,
      payload: {
        lifecycleEvent: event,
        subscriptionId: sub.id,
        subscriptionExpirationDateTime: utcTimestamp7(sub.expiration),
        clientState: sub.clientState,
        tenantId: this.world.tenantId,
      },
    });
    return true;
  }

  /** Called by the notifier when retries are exhausted: the subscriptions get a `missed` lifecycle event. */
  onGiveUp(items: PendingNotification[]): void {
    const ids = new Set(items.filter((i) => !i.lifecycle).map((i) => i.subscriptionId));
    for (const id of ids) {
      const sub = this.subs.get(id);
      if (sub) this.sendLifecycle(sub, 'missed');
    }
  }

  private onChange(c: ChangeNotice): void {
    const ids = this.byUser.get(c.userId);
    if (!ids || ids.size === 0) return;
    const info = NOTIFICATION_TYPE[c.kind];
    if (!info) return;
    const now = this.clock.now();
    for (const id of [...ids]) {
      const sub = this.subs.get(id);
      if (!sub) continue;
      if (sub.expiration <= now) {
        this.drop(sub);
        continue;
      }
      if (sub.kind !== c.kind || !sub.changeTypes.has(c.changeType)) continue;
      if (sub.folderId && sub.folderId !== c.parentId) continue;
      if (this.faults.removeSubscription(sub.id)) {
        this.drop(sub);
        this.sendLifecycle(sub, 'subscriptionRemoved');
        continue;
      }
      const fault = this.faults.forNotification(sub.id);
      if (fault.drop) {
        if (this.faults.missedOnDrop()) this.sendLifecycle(sub, 'missed');
        continue;
      }
      const path = `Users/${c.userId}/${info.segment}/${c.id}`;
      const resourceData: Record<string, unknown> = { '@odata.type': info.type, '@odata.id': path };
      if (c.changeType !== 'deleted') resourceData['@odata.etag'] = `W/"${c.changeKey}"`;
      resourceData.id = c.id;
      const payload: Record<string, unknown> = {
        id: this.prng.bytes(9).toString('base64url'),
        subscriptionId: sub.id,
        subscriptionExpirationDateTime: utcTimestamp7(sub.expiration),
        clientState: sub.clientState,
        changeType: c.changeType,
        resource: path,
        tenantId: this.world.tenantId,
        resourceData,
      };
      const item = { subscriptionId: sub.id, payload, lifecycle: false };
      this.notifier.enqueue(sub.notificationUrl, item, fault.delayMs);
      if (fault.duplicate) this.notifier.enqueue(sub.notificationUrl, { ...item, payload: { ...payload } }, fault.delayMs);
    }
  }

  private parseResource(resource: string): { kind: SubscribableKind; userId: string; folderId?: string } {
    const path = resource.split('?')[0] ?? '';
    const segs = splitSegments(path);
    const lower = segs.map((s) => s.toLowerCase());
    if (lower[0] === 'me') throw new GraphError(400, 'BadRequest', '/me request is only valid with delegated authentication flow.');
    if (lower[0] !== 'users' || segs.length < 3) throw new GraphError(400, 'InvalidRequest', `Resource '${resource}' is not supported by the simulator: use /users/{id}/events, /contacts, /contactFolders/{id}/contacts, /messages or /mailFolders/{id}/messages.`);
    const mb = this.world.findMailbox(segs[1] as string);
    if (!mb) throw extensionError(404, `The requested user '${segs[1] ?? ''}' is invalid.`);
    const rest = lower.slice(2).join('/');
    if (rest === 'events' || rest === 'calendar/events') return { kind: 'event', userId: mb.user.id };
    if (lower.length === 5 && lower[2] === 'calendars' && lower[4] === 'events' && segs[3] === mb.calendarId) return { kind: 'event', userId: mb.user.id };
    if (rest === 'contacts') return { kind: 'contact', userId: mb.user.id };
    if (lower.length === 5 && lower[2] === 'contactfolders' && lower[4] === 'contacts') {
      const f = segs[3] as string;
      return { kind: 'contact', userId: mb.user.id, folderId: f.toLowerCase() === 'contacts' ? mb.defaultContactFolderId : f };
    }
    if (rest === 'messages') return { kind: 'message', userId: mb.user.id };
    if (lower.length === 5 && lower[2] === 'mailfolders' && lower[4] === 'messages') {
      const f = segs[3] as string;
      return { kind: 'message', userId: mb.user.id, folderId: mb.mailFolders.get(f.toLowerCase()) ?? f };
    }
    if (lower.length === 6 && lower[2] === 'todo' && lower[3] === 'lists' && lower[5] === 'tasks') return { kind: 'todoTask', userId: mb.user.id };
    throw new GraphError(400, 'InvalidRequest', `Resource '${resource}' is not supported for change notifications.`);
  }

  private checkExpiration(value: string, kind: SubscribableKind): number {
    const t = Date.parse(value);
    if (Number.isNaN(t)) throw new GraphError(400, 'InvalidRequest', `expirationDateTime '${value}' is not a valid date and time.`);
    const now = this.clock.now();
    const max = this.limits.maxSubscriptionMinutes[kind];
    if (t <= now) throw new GraphError(400, 'ExtensionError', 'Subscription expiration must be in the future.');
    if (t > now + max * 60_000) throw new GraphError(400, 'ExtensionError', `Subscription expiration can only be ${max} minutes in the future.`);
    return Math.max(t, now + this.limits.minSubscriptionMinutes * 60_000);
  }

  /** The validation handshake (includes/change-notifications-delivery-notificationurl-validation.md). */
  private async validate(url: string): Promise<void> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${this.prng.guid()}`;
    const target = `${url}${url.includes('?') ? '&' : '?'}validationToken=${encodeURIComponent(token)}`;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.policy.validationTimeoutMs);
    let res: Response;
    try {
      res = await fetch(target, { method: 'POST', headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: '', signal: controller.signal });
    } catch {
      if (controller.signal.aborted) throw new GraphError(400, 'InvalidRequest', 'Subscription validation request timed out.');
      throw new GraphError(400, 'ValidationError', 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.');
    } finally {
      clearTimeout(timer);
    }
    const text = await res.text().catch(() => '');
    if (res.status !== 200) throw new GraphError(400, 'ValidationError', 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.');
    const contentType = res.headers.get('content-type') ?? '';
    if (!/^text\/plain/i.test(contentType)) throw new GraphError(400, 'ValidationError', `Subscription validation request failed. The response must have Content-Type text/plain (got '${contentType}').`);
    if (text !== token) throw new GraphError(400, 'ValidationError', 'Subscription validation request failed. Response must exactly match validationToken query parameter.');
  }
}

function parseChangeTypes(value: string): Set<string> {
  const out = new Set<string>();
  for (const part of value.split(',')) {
    const t = part.trim();
    if (!['created', 'updated', 'deleted'].includes(t)) throw new GraphError(400, 'InvalidRequest', `changeType '${t}' is not valid: use created, updated and/or deleted.`);
    out.add(t);
  }
  return out;
}

/** notificationUrl must be https; http is accepted only for localhost and 127.0.0.1 (the local Functions host). */
function checkUrl(value: string, property: string): void {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new GraphError(400, 'InvalidRequest', `${property} '${value}' is not an absolute URL.`);
  }
  if (u.protocol === 'https:') return;
  if (u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1')) return;
  throw new GraphError(400, 'InvalidRequest', `${property} must use https (got '${value}').`);
}

/** Splits an OData path into segments, turning key syntax name('k') into name/k. */
export function splitSegments(path: string): string[] {
  const out: string[] = [];
  for (const raw of path.split('/')) {
    if (!raw) continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      seg = raw;
    }
    const m = /^([^(]+)\((.*)\)$/.exec(seg);
    if (m) {
      out.push(m[1] as string);
      out.push((m[2] as string).replace(/^'(.*)'$/, '$1'));
    } else {
      out.push(seg);
    }
  }
  return out;
}
