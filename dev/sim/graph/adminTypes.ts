// The admin API's contract, shared by the in-process object and the HTTP client (and validated on the wire).
import { z } from 'zod';
import type { RequestStats } from './graphApi.js';
import type { InvitationRecord } from './invitations.js';
import type { DeliveryRecord } from './notifier.js';
import type { SentMailRecord } from './resources/messages.js';
import type { FaultPlan, ScriptedFault } from './faults.js';
import type { PartialLimits } from './options.js';
import type { MailboxUnavailability } from './store.js';

export const seedUserSchema = z.object({
  id: z.string().optional(),
  userPrincipalName: z.string().min(3),
  mail: z.string().optional(),
  displayName: z.string().optional(),
  givenName: z.string().optional(),
  surname: z.string().optional(),
  timeZone: z.string().optional(),
});
export type SeedUser = z.infer<typeof seedUserSchema>;

const kind = z.enum(['event', 'contact', 'contactFolder', 'todoTaskList', 'todoTask', 'message']);
const user = z.string().min(1);

/** Something a person does in Outlook (or To Do); it changes the mailbox and notifies like a real change. */
export const personActionSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('create'), user, kind, body: z.record(z.string(), z.unknown()), listId: z.string().optional(), folderId: z.string().optional() }),
  z.object({ action: z.literal('update'), user, kind, id: z.string(), body: z.record(z.string(), z.unknown()), listId: z.string().optional() }),
  z.object({ action: z.literal('delete'), user, kind, id: z.string(), listId: z.string().optional() }),
  z.object({
    action: z.literal('setCategory'),
    user,
    kind: z.enum(['event', 'contact', 'todoTask', 'message']),
    id: z.string(),
    category: z.string().min(1),
    present: z.boolean(),
    listId: z.string().optional(),
  }),
  z.object({ action: z.literal('respond'), user, eventId: z.string(), response: z.enum(['accepted', 'tentativelyAccepted', 'declined']), sendResponse: z.boolean().optional() }),
  z.object({ action: z.literal('cancel'), user, eventId: z.string() }),
  z.object({ action: z.literal('sendMail'), user, message: z.record(z.string(), z.unknown()) }),
]);
export type PersonAction = z.infer<typeof personActionSchema>;

/** A user as the admin API reports it. */
export interface SimUserView {
  id: string;
  userPrincipalName: string;
  mail: string;
  displayName: string;
  timeZone: string;
  calendarId: string;
  defaultContactFolderId: string;
  defaultTodoListId: string;
}

/** A stored item for inspection: its Graph JSON (UTC, with extended properties) and bookkeeping. */
export interface InspectedItem {
  id: string;
  kind: string;
  userId: string;
  parentId: string;
  etag: string;
  item: Record<string, unknown>;
}

export interface SubscriptionView {
  id: string;
  resource: string;
  applicationId: string;
  userId: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  clientState: string | null;
  expirationDateTime: string;
}

/** Operations of the admin API. */
export interface GraphSimAdminApi {
  reset(): Promise<void>;
  seedUsers(users: SeedUser[]): Promise<SimUserView[]>;
  users(): Promise<SimUserView[]>;
  act(action: PersonAction): Promise<Record<string, unknown>>;
  items(query?: { user?: string; kind?: string }): Promise<InspectedItem[]>;
  invitations(query?: { user?: string; iCalUId?: string; eventId?: string }): Promise<InvitationRecord[]>;
  sentMail(): Promise<SentMailRecord[]>;
  subscriptions(): Promise<SubscriptionView[]>;
  expireSubscription(id: string): Promise<void>;
  sendLifecycle(id: string, event: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed'): Promise<boolean>;
  notifications(): Promise<DeliveryRecord[]>;
  notificationsSettled(): Promise<void>;
  requests(): Promise<RequestStats>;
  advanceClock(ms: number): Promise<string>;
  now(): Promise<string>;
  setFaultPlan(plan: FaultPlan): Promise<void>;
  failNext(fault: ScriptedFault): Promise<void>;
  faultHistory(): Promise<string[]>;
  evictDeltaTokens(user?: string): Promise<number>;
  setLimits(limits: PartialLimits): Promise<void>;
  /** Makes a mailbox unreachable as Graph answers for it (removed user, no license, access policy), or reachable again (null). */
  setMailboxUnavailable(user: string, why: MailboxUnavailability | null): Promise<void>;
}

/** Convenience helpers over `act`, shared by both admin implementations. */
export abstract class GraphSimAdminBase implements GraphSimAdminApi {
  abstract reset(): Promise<void>;
  abstract seedUsers(users: SeedUser[]): Promise<SimUserView[]>;
  abstract users(): Promise<SimUserView[]>;
  abstract act(action: PersonAction): Promise<Record<string, unknown>>;
  abstract items(query?: { user?: string; kind?: string }): Promise<InspectedItem[]>;
  abstract invitations(query?: { user?: string; iCalUId?: string; eventId?: string }): Promise<InvitationRecord[]>;
  abstract sentMail(): Promise<SentMailRecord[]>;
  abstract subscriptions(): Promise<SubscriptionView[]>;
  abstract expireSubscription(id: string): Promise<void>;
  abstract sendLifecycle(id: string, event: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed'): Promise<boolean>;
  abstract notifications(): Promise<DeliveryRecord[]>;
  abstract notificationsSettled(): Promise<void>;
  abstract requests(): Promise<RequestStats>;
  abstract advanceClock(ms: number): Promise<string>;
  abstract now(): Promise<string>;
  abstract setFaultPlan(plan: FaultPlan): Promise<void>;
  abstract failNext(fault: ScriptedFault): Promise<void>;
  abstract faultHistory(): Promise<string[]>;
  abstract evictDeltaTokens(user?: string): Promise<number>;
  abstract setLimits(limits: PartialLimits): Promise<void>;
  abstract setMailboxUnavailable(user: string, why: MailboxUnavailability | null): Promise<void>;

  /** A person creates an event in their calendar (with attendees it is a meeting and invitations go out). */
  createEvent(user: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.act({ action: 'create', user, kind: 'event', body });
  }

  updateEvent(user: string, id: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.act({ action: 'update', user, kind: 'event', id, body });
  }

  async deleteEvent(user: string, id: string): Promise<void> {
    await this.act({ action: 'delete', user, kind: 'event', id });
  }

  /** Sets or clears a category (e.g. "Tracked to Dynamics 365") on an item, as a person does in Outlook. */
  setCategory(user: string, kind: 'event' | 'contact' | 'todoTask' | 'message', id: string, category: string, present: boolean, listId?: string): Promise<Record<string, unknown>> {
    return this.act({ action: 'setCategory', user, kind, id, category, present, ...(listId ? { listId } : {}) });
  }

  async respond(user: string, eventId: string, response: 'accepted' | 'tentativelyAccepted' | 'declined', sendResponse = true): Promise<void> {
    await this.act({ action: 'respond', user, eventId, response, sendResponse });
  }

  createContact(user: string, body: Record<string, unknown>, folderId?: string): Promise<Record<string, unknown>> {
    return this.act({ action: 'create', user, kind: 'contact', body, ...(folderId ? { folderId } : {}) });
  }

  createTask(user: string, body: Record<string, unknown>, listId?: string): Promise<Record<string, unknown>> {
    return this.act({ action: 'create', user, kind: 'todoTask', body, ...(listId ? { listId } : {}) });
  }
}
