// A typed HTTP client for the admin API, for processes that did not start the simulator (the `npm start`
// sandbox, other test processes). The process must trust the dev certificate (dev/with-dev-ca.mjs).
import { GraphSimAdminBase, type InspectedItem, type PersonAction, type SeedUser, type SimUserView, type SubscriptionView } from './adminTypes.js';
import type { FaultPlan, ScriptedFault } from './faults.js';
import type { RequestStats } from './graphApi.js';
import type { InvitationRecord } from './invitations.js';
import type { DeliveryRecord } from './notifier.js';
import type { PartialLimits } from './options.js';
import type { SentMailRecord } from './resources/messages.js';
import type { MailboxUnavailability } from './store.js';

/** Raised when the admin API answers with an error. */
export class GraphSimAdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'GraphSimAdminError';
  }
}

/** Drives a running Graph simulator's admin API over HTTPS. */
export class GraphSimAdminClient extends GraphSimAdminBase {
  /** @param baseUrl the simulator's origin, e.g. https://127.0.0.1:PORT */
  constructor(private readonly baseUrl: string) {
    super();
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl.replace(/\/+$/, '')}/_sim${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new GraphSimAdminError(res.status, err?.code ?? 'Error', err?.message ?? `admin ${method} ${path} answered ${res.status}`);
    }
    return parsed as T;
  }

  private static qs(query: Record<string, string | undefined>): string {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) p.set(k, v);
    const s = p.toString();
    return s ? `?${s}` : '';
  }

  async reset(): Promise<void> {
    await this.call('POST', '/reset');
  }
  seedUsers(users: SeedUser[]): Promise<SimUserView[]> {
    return this.call('POST', '/users', { users });
  }
  users(): Promise<SimUserView[]> {
    return this.call('GET', '/users');
  }
  act(action: PersonAction): Promise<Record<string, unknown>> {
    return this.call('POST', '/act', action);
  }
  items(query: { user?: string; kind?: string } = {}): Promise<InspectedItem[]> {
    return this.call('GET', `/items${GraphSimAdminClient.qs(query)}`);
  }
  invitations(query: { user?: string; iCalUId?: string; eventId?: string } = {}): Promise<InvitationRecord[]> {
    return this.call('GET', `/invitations${GraphSimAdminClient.qs(query)}`);
  }
  sentMail(): Promise<SentMailRecord[]> {
    return this.call('GET', '/sent-mail');
  }
  subscriptions(): Promise<SubscriptionView[]> {
    return this.call('GET', '/subscriptions');
  }
  async expireSubscription(id: string): Promise<void> {
    await this.call('POST', `/subscriptions/${encodeURIComponent(id)}/expire`);
  }
  async sendLifecycle(id: string, event: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed'): Promise<boolean> {
    return (await this.call<{ sent: boolean }>('POST', `/subscriptions/${encodeURIComponent(id)}/lifecycle`, { event })).sent;
  }
  notifications(): Promise<DeliveryRecord[]> {
    return this.call('GET', '/notifications');
  }
  async notificationsSettled(): Promise<void> {
    await this.call('GET', '/notifications/settled');
  }
  requests(): Promise<RequestStats> {
    return this.call('GET', '/requests');
  }
  async advanceClock(ms: number): Promise<string> {
    return (await this.call<{ now: string }>('POST', '/clock/advance', { ms })).now;
  }
  async now(): Promise<string> {
    return (await this.call<{ now: string }>('GET', '/clock')).now;
  }
  async setFaultPlan(plan: FaultPlan): Promise<void> {
    await this.call('PUT', '/faults', plan);
  }
  async failNext(fault: ScriptedFault): Promise<void> {
    await this.call('POST', '/faults/scripted', fault);
  }
  faultHistory(): Promise<string[]> {
    return this.call('GET', '/faults/history');
  }
  async evictDeltaTokens(user?: string): Promise<number> {
    return (await this.call<{ evicted: number }>('POST', '/delta/evict', user ? { user } : {})).evicted;
  }
  async setMailboxUnavailable(user: string, why: MailboxUnavailability | null): Promise<void> {
    await this.call('PUT', `/users/${encodeURIComponent(user)}/unavailable`, { why });
  }
  async setLimits(limits: PartialLimits): Promise<void> {
    await this.call('PUT', '/limits', limits);
  }
}
