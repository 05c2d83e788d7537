// The admin API, in process and over HTTP under /_sim/ (outside /v1.0, no token): reset and seed users, act as a
// person in Outlook, inspect items, invitations, sent mail, subscriptions, notification deliveries and request
// counts, advance the clock, set the fault plan, evict delta tokens, expire subscriptions, send lifecycle events.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { readBody, sendJson } from '../common/https.js';
import { GraphSimAdminBase, personActionSchema, seedUserSchema, type InspectedItem, type PersonAction, type SeedUser, type SimUserView, type SubscriptionView } from './adminTypes.js';
import type { SimClock } from './clock.js';
import type { DeltaEngine } from './delta.js';
import { faultPlanSchema, scriptedFaultSchema, type FaultInjector, type FaultPlan, type ScriptedFault } from './faults.js';
import type { GraphApi, RequestHold, RequestStats } from './graphApi.js';
import { GraphError } from './graphError.js';
import type { InvitationLog, InvitationRecord } from './invitations.js';
import type { DeliveryRecord, Notifier } from './notifier.js';
import type { PartialLimits } from './options.js';
import { filterView, type ResourceSpec } from './resources/common.js';
import { contactFolderSpec, contactSpec, type ContactService } from './resources/contacts.js';
import { eventSpec, type EventService } from './resources/events.js';
import { mailFolderSpec, messageSpec, type MessageService, type SentMailRecord } from './resources/messages.js';
import { taskListSpec, taskSpec, type TodoService } from './resources/todo.js';
import { mailboxUnavailabilities, type ItemKind, type ItemRecord, type Mailbox, type MailboxUnavailability } from './store.js';
import type { SubscriptionManager } from './subscriptions.js';
import type { Throttle } from './throttle.js';
import { type Actor, type World } from './world.js';

/** What the admin API reaches into. */
export interface AdminDeps {
  world: World;
  events: EventService;
  contacts: ContactService;
  todo: TodoService;
  messages: MessageService;
  subscriptions: SubscriptionManager;
  notifier: Notifier;
  invitations: InvitationLog;
  delta: DeltaEngine;
  throttle: Throttle;
  faults: FaultInjector;
  api: GraphApi;
  clock: SimClock;
  setLimits(limits: PartialLimits): void;
}

export const SPECS: Record<ItemKind, ResourceSpec> = {
  event: eventSpec,
  contact: contactSpec,
  contactFolder: contactFolderSpec,
  todoTaskList: taskListSpec,
  todoTask: taskSpec,
  message: messageSpec,
  mailFolder: mailFolderSpec,
};

/** The in-process admin object. */
export class GraphSimAdmin extends GraphSimAdminBase {
  constructor(private readonly d: AdminDeps) {
    super();
  }

  reset(): Promise<void> {
    const d = this.d;
    d.world.reset();
    d.subscriptions.reset();
    d.invitations.clear();
    d.messages.clear();
    d.notifier.clearLog();
    d.delta.reset();
    d.throttle.reset();
    d.api.resetStats();
    d.faults.clearScripted();
    return Promise.resolve();
  }

  seedUsers(users: SeedUser[]): Promise<SimUserView[]> {
    return Promise.resolve(users.map((u) => this.userView(this.d.world.findMailbox(this.d.world.seedUser(seedUserSchema.parse(u)).id) as Mailbox)));
  }

  users(): Promise<SimUserView[]> {
    return Promise.resolve([...this.d.world.mailboxes.values()].map((m) => this.userView(m)));
  }

  act(action: PersonAction): Promise<Record<string, unknown>> {
    return Promise.resolve(this.actSync(personActionSchema.parse(action)));
  }

  items(query: { user?: string; kind?: string } = {}): Promise<InspectedItem[]> {
    this.d.messages.pump();
    const mb = query.user ? this.mailbox(query.user) : undefined;
    const out: InspectedItem[] = [];
    for (const r of this.d.world.items.values()) {
      if (mb && r.userId !== mb.user.id) continue;
      if (query.kind && r.kind !== query.kind) continue;
      if (r.kind === 'mailFolder') continue;
      out.push(this.inspect(r));
    }
    return Promise.resolve(out);
  }

  invitations(query: { user?: string; iCalUId?: string; eventId?: string } = {}): Promise<InvitationRecord[]> {
    const userId = query.user ? this.mailbox(query.user).user.id : undefined;
    return Promise.resolve(this.d.invitations.list({ ...(userId ? { userId } : {}), ...(query.iCalUId ? { iCalUId: query.iCalUId } : {}), ...(query.eventId ? { eventId: query.eventId } : {}) }));
  }

  sentMail(): Promise<SentMailRecord[]> {
    return Promise.resolve(this.d.messages.sentMail());
  }

  subscriptions(): Promise<SubscriptionView[]> {
    return Promise.resolve(
      this.d.subscriptions.list(undefined).map((s) => ({
        id: s.id,
        resource: s.resource,
        applicationId: s.applicationId,
        userId: s.userId,
        changeType: s.changeType,
        notificationUrl: s.notificationUrl,
        lifecycleNotificationUrl: s.lifecycleNotificationUrl,
        clientState: s.clientState,
        expirationDateTime: new Date(s.expiration).toISOString(),
      })),
    );
  }

  expireSubscription(id: string): Promise<void> {
    this.d.subscriptions.expire(id);
    return Promise.resolve();
  }

  sendLifecycle(id: string, event: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed'): Promise<boolean> {
    return Promise.resolve(this.d.subscriptions.lifecycle(id, event));
  }

  notifications(): Promise<DeliveryRecord[]> {
    return Promise.resolve(this.d.notifier.deliveries());
  }

  notificationsSettled(): Promise<void> {
    return this.d.notifier.settled();
  }

  requests(): Promise<RequestStats> {
    return Promise.resolve(this.d.api.stats());
  }

  advanceClock(ms: number): Promise<string> {
    this.d.clock.advance(ms);
    this.d.subscriptions.sweep();
    this.d.messages.pump();
    return this.now();
  }

  now(): Promise<string> {
    return Promise.resolve(new Date(this.d.clock.now()).toISOString());
  }

  setFaultPlan(plan: FaultPlan): Promise<void> {
    this.d.faults.setPlan(plan);
    return Promise.resolve();
  }

  failNext(fault: ScriptedFault): Promise<void> {
    this.d.faults.addScripted(fault);
    return Promise.resolve();
  }

  faultHistory(): Promise<string[]> {
    return Promise.resolve([...this.d.faults.history]);
  }

  evictDeltaTokens(user?: string): Promise<number> {
    return Promise.resolve(this.d.delta.evict(user ? this.mailbox(user).user.id : undefined));
  }

  setMailboxUnavailable(user: string, why: MailboxUnavailability | null): Promise<void> {
    const mb = this.mailbox(user);
    if (why === null) delete mb.unavailable;
    else mb.unavailable = why;
    return Promise.resolve();
  }

  setLimits(limits: PartialLimits): Promise<void> {
    this.d.setLimits(limits);
    return Promise.resolve();
  }

  /** In process only: holds admitted mailbox requests (those `match` matches, "METHOD /path") until `release()` (deterministic in-flight requests for tests). */
  holdRequests(match?: RegExp): RequestHold {
    return this.d.api.holdRequests(match);
  }

  /** Serves the admin API over HTTP (paths under /_sim/). */
  async handleHttp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    try {
      const body = req.method === 'GET' || req.method === 'DELETE' ? undefined : await readJson(req);
      const result = await this.route(req.method ?? 'GET', url, body);
      if (result === undefined) sendJson(res, 204, undefined);
      else sendJson(res, 200, result);
    } catch (err) {
      if (err instanceof GraphError) sendJson(res, err.status, { error: { code: err.code, message: err.message } });
      else if (err instanceof z.ZodError) sendJson(res, 400, { error: { code: 'BadRequest', message: `Invalid admin request: ${err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` } });
      else sendJson(res, 500, { error: { code: 'InternalServerError', message: err instanceof Error ? err.message : String(err) } });
    }
  }

  private async route(method: string, url: URL, body: unknown): Promise<unknown> {
    const p = url.pathname.replace(/\/+$/, '');
    const q = url.searchParams;
    const opt = (name: string) => q.get(name) ?? undefined;
    const key = `${method} ${p}`;
    let m: RegExpExecArray | null;
    switch (key) {
      case 'POST /_sim/reset':
        return this.reset();
      case 'POST /_sim/users':
        return this.seedUsers(z.object({ users: z.array(seedUserSchema) }).parse(body).users);
      case 'GET /_sim/users':
        return this.users();
      case 'POST /_sim/act':
        return this.act(personActionSchema.parse(body));
      case 'GET /_sim/items':
        return this.items({ ...(opt('user') ? { user: opt('user') } : {}), ...(opt('kind') ? { kind: opt('kind') } : {}) });
      case 'GET /_sim/invitations':
        return this.invitations({ ...(opt('user') ? { user: opt('user') } : {}), ...(opt('iCalUId') ? { iCalUId: opt('iCalUId') } : {}), ...(opt('eventId') ? { eventId: opt('eventId') } : {}) });
      case 'GET /_sim/sent-mail':
        return this.sentMail();
      case 'GET /_sim/subscriptions':
        return this.subscriptions();
      case 'GET /_sim/notifications':
        return this.notifications();
      case 'GET /_sim/notifications/settled':
        await this.notificationsSettled();
        return { settled: true };
      case 'GET /_sim/requests':
        return this.requests();
      case 'GET /_sim/clock':
        return { now: await this.now() };
      case 'POST /_sim/clock/advance':
        return { now: await this.advanceClock(z.object({ ms: z.number().min(0) }).parse(body).ms) };
      case 'PUT /_sim/faults':
        return this.setFaultPlan(faultPlanSchema.parse(body));
      case 'POST /_sim/faults/scripted':
        return this.failNext(scriptedFaultSchema.parse(body));
      case 'GET /_sim/faults/history':
        return this.faultHistory();
      case 'POST /_sim/delta/evict':
        return { evicted: await this.evictDeltaTokens(z.object({ user: z.string().optional() }).parse(body ?? {}).user) };
      case 'PUT /_sim/limits':
        return this.setLimits(z.record(z.string(), z.unknown()).parse(body));
    }
    if (method === 'PUT' && (m = /^\/_sim\/users\/([^/]+)\/unavailable$/.exec(p))) {
      const why = z.object({ why: z.enum(mailboxUnavailabilities).nullable() }).parse(body).why;
      await this.setMailboxUnavailable(decodeURIComponent(m[1] as string), why);
      return { unavailable: why };
    }
    if (method === 'POST' && (m = /^\/_sim\/subscriptions\/([^/]+)\/expire$/.exec(p))) return this.expireSubscription(decodeURIComponent(m[1] as string));
    if (method === 'POST' && (m = /^\/_sim\/subscriptions\/([^/]+)\/lifecycle$/.exec(p))) {
      const event = z.object({ event: z.enum(['reauthorizationRequired', 'subscriptionRemoved', 'missed']) }).parse(body).event;
      return { sent: await this.sendLifecycle(decodeURIComponent(m[1] as string), event) };
    }
    throw new GraphError(404, 'NotFound', `No admin route ${method} ${p}.`);
  }

  private mailbox(user: string): Mailbox {
    const mb = this.d.world.findMailbox(user);
    if (!mb) throw new GraphError(404, 'ErrorInvalidUser', `The requested user '${user}' is invalid.`);
    return mb;
  }

  private userView(mb: Mailbox): SimUserView {
    return {
      id: mb.user.id,
      userPrincipalName: mb.user.userPrincipalName,
      mail: mb.user.mail,
      displayName: mb.user.displayName,
      timeZone: mb.user.timeZone.windows,
      calendarId: mb.calendarId,
      defaultContactFolderId: mb.defaultContactFolderId,
      defaultTodoListId: mb.defaultTodoListId,
    };
  }

  private inspect(r: ItemRecord): InspectedItem {
    const view = filterView(SPECS[r.kind], r);
    return { id: r.id, kind: r.kind, userId: r.userId, parentId: r.parentId, etag: `W/"${r.changeKey}"`, item: structuredClone(view) };
  }

  private actSync(a: PersonAction): Record<string, unknown> {
    const d = this.d;
    const mb = this.mailbox(a.user);
    const actor: Actor = { kind: 'person', userId: mb.user.id };
    const find = (kind: string, id: string, listId?: string): ItemRecord => {
      switch (kind) {
        case 'event':
          return d.world.get(d.events.collectionKey(mb), id);
        case 'contact':
          return d.contacts.find(mb, id);
        case 'todoTask':
          return d.todo.task(mb, listId ?? mb.defaultTodoListId, id);
        case 'message':
          return d.messages.find(mb, id);
        case 'todoTaskList':
          return d.todo.list(mb, id);
        case 'contactFolder':
          return d.world.get(d.contacts.folderCollectionKey(mb), id);
        default:
          throw new GraphError(400, 'BadRequest', `unknown kind ${kind}`);
      }
    };
    switch (a.action) {
      case 'create': {
        let r: ItemRecord;
        if (a.kind === 'event') r = d.events.create(mb, a.body, actor).record;
        else if (a.kind === 'contact') r = d.contacts.create(mb, a.folderId ? d.contacts.folderId(mb, a.folderId) : mb.defaultContactFolderId, a.body, actor);
        else if (a.kind === 'todoTask') r = d.todo.createTask(mb, a.listId ?? mb.defaultTodoListId, a.body, actor);
        else if (a.kind === 'todoTaskList') r = d.todo.createList(mb, a.body, actor);
        else if (a.kind === 'contactFolder') r = d.contacts.createFolder(mb, a.body, actor);
        else r = d.messages.create(mb, d.messages.folderId(mb, a.folderId ?? 'inbox'), a.body, actor, { isRead: false, isDraft: false, origin: 'received', headersHidden: false });
        return this.inspect(r).item;
      }
      case 'update': {
        const r = find(a.kind, a.id, a.listId);
        if (a.kind === 'event') d.events.update(mb, a.id, a.body, actor);
        else if (a.kind === 'contact') d.contacts.update(r as never, a.body, actor);
        else if (a.kind === 'todoTask') d.todo.updateTask(r as never, a.body, actor);
        else if (a.kind === 'todoTaskList') d.todo.updateList(mb, a.id, a.body, actor);
        else if (a.kind === 'contactFolder') d.contacts.updateFolder(mb, a.id, a.body, actor);
        else d.messages.update(r as never, a.body, actor);
        return this.inspect(d.world.items.get(a.id) as ItemRecord).item;
      }
      case 'delete': {
        const r = find(a.kind, a.id, a.listId);
        if (a.kind === 'event') d.events.delete(mb, a.id, actor);
        else if (a.kind === 'contact') d.contacts.delete(r as never, actor);
        else if (a.kind === 'todoTask') d.todo.deleteTask(r as never, actor);
        else if (a.kind === 'todoTaskList') d.todo.deleteList(mb, a.id, actor);
        else if (a.kind === 'contactFolder') d.contacts.deleteFolder(mb, a.id, actor);
        else d.messages.delete(r as never, actor);
        return {};
      }
      case 'setCategory': {
        const r = find(a.kind, a.id, a.listId);
        const current = (filterView(SPECS[r.kind], r).categories as string[] | undefined) ?? [];
        const has = current.some((c) => c.toLowerCase() === a.category.toLowerCase());
        const next = a.present ? (has ? current : [...current, a.category]) : current.filter((c) => c.toLowerCase() !== a.category.toLowerCase());
        const body = { categories: next };
        if (a.kind === 'event') d.events.update(mb, a.id, body, actor);
        else if (a.kind === 'contact') d.contacts.update(r as never, body, actor);
        else if (a.kind === 'todoTask') d.todo.updateTask(r as never, body, actor);
        else d.messages.update(r as never, body, actor);
        return this.inspect(d.world.items.get(a.id) as ItemRecord).item;
      }
      case 'respond':
        d.events.respond(mb, a.eventId, a.response, a.sendResponse ?? true, actor);
        return {};
      case 'cancel':
        d.events.cancel(mb, a.eventId, actor);
        return {};
      case 'sendMail':
        d.messages.sendMail(mb, { message: a.message }, actor);
        return {};
    }
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new GraphError(400, 'BadRequest', 'The admin request body is not valid JSON.');
  }
}
