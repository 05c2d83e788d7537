// The /v1.0 surface: route table, permission checks, mailbox resolution, throttling and request faults, and the
// handlers. Transport-free (a request in, a response out) so that $batch reuses it for its inner requests.
import { z } from 'zod';
import type { DeltaEngine, DeltaPage, DeltaScope } from './delta.js';
import type { FaultInjector } from './faults.js';
import { GraphError, graphErrorBody, throttledBody } from './graphError.js';
import { compareValues, indexHints, matchesFilter, parseFilter, parseOrderBy, readPath, type FilterExpr } from './odataFilter.js';
import type { GraphSimLimits } from './options.js';
import { intParam, parsePreferences, presentOptions, queryParam, selectList, type Preferences } from './requestOptions.js';
import { filterView, present, type ResourceSpec } from './resources/common.js';
import { contactFolderSpec, contactSpec, type ContactService } from './resources/contacts.js';
import { eventSpec, type EventService } from './resources/events.js';
import { mailFolderSpec, messageSpec, type MessageService } from './resources/messages.js';
import { taskListSpec, taskSpec, type TaskRecord, type TodoService } from './resources/todo.js';
import type { ItemKind, ItemRecord, Mailbox } from './store.js';
import { splitSegments, type AppIdentity, type SubscriptionManager } from './subscriptions.js';
import type { Throttle } from './throttle.js';
import type { TimeSource } from './clock.js';
import { collectionKeys, type Actor, type World } from './world.js';

/** A transport-independent Graph request. */
export interface GraphRequest {
  method: string;
  /** Path after /v1.0, starting with '/'. */
  path: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  body: unknown;
  app: AppIdentity;
  requestId: string;
  clientRequestId: string;
}

export interface GraphResponse {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

type Family = 'calendar' | 'contacts' | 'tasks' | 'mail' | 'directory' | 'mailboxSettings' | 'subscriptions';
type Access = 'read' | 'write' | 'send';

interface RouteContext {
  req: GraphRequest;
  params: Record<string, string>;
  mb: Mailbox;
  /** The user segment as the caller wrote it (id or UPN), for links. */
  userSeg: string;
  prefs: Preferences;
  actor: Actor;
}

interface Route {
  method: string;
  pattern: string[];
  template: string;
  family: Family;
  access: Access;
  mailbox: boolean;
  handler: (ctx: RouteContext) => GraphResponse | Promise<GraphResponse>;
}

const ROLES: Record<Family, Record<Access, string[]>> = {
  calendar: { read: ['Calendars.Read', 'Calendars.ReadWrite', 'Calendars.ReadBasic'], write: ['Calendars.ReadWrite'], send: ['Calendars.ReadWrite'] },
  contacts: { read: ['Contacts.Read', 'Contacts.ReadWrite'], write: ['Contacts.ReadWrite'], send: ['Contacts.ReadWrite'] },
  tasks: { read: ['Tasks.Read.All', 'Tasks.ReadWrite.All'], write: ['Tasks.ReadWrite.All'], send: ['Tasks.ReadWrite.All'] },
  mail: { read: ['Mail.Read', 'Mail.ReadWrite', 'Mail.ReadBasic', 'Mail.ReadBasic.All'], write: ['Mail.ReadWrite'], send: ['Mail.Send'] },
  directory: { read: ['User.Read.All', 'User.ReadWrite.All', 'User.ReadBasic.All', 'Directory.Read.All', 'Directory.ReadWrite.All'], write: ['User.ReadWrite.All'], send: [] },
  mailboxSettings: { read: ['MailboxSettings.Read', 'MailboxSettings.ReadWrite'], write: ['MailboxSettings.ReadWrite'], send: [] },
  subscriptions: { read: [], write: [], send: [] },
};

/** A gate holding admitted requests (see GraphApi.holdRequests). */
export interface RequestHold {
  wait(): Promise<void>;
  /** Requests currently waiting at the gate (admitted, not yet run). */
  held(): number;
  /** Resolves once n requests have reached the gate. */
  waitForHeld(n: number): Promise<void>;
  release(): void;
}

/** Request counts for inspection. */
export interface RequestStats {
  byMailbox: Record<string, number>;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  throttled: number;
  total: number;
}

export interface GraphApiDeps {
  world: World;
  events: EventService;
  contacts: ContactService;
  todo: TodoService;
  messages: MessageService;
  subscriptions: SubscriptionManager;
  delta: DeltaEngine;
  throttle: Throttle;
  faults: FaultInjector;
  clock: TimeSource;
  limits: () => GraphSimLimits;
  baseUrl: () => string;
  enforcePermissions: boolean;
}

/** Executes Graph requests against the simulated tenant. */
export class GraphApi {
  private readonly routes: Route[] = [];
  private readonly byMailbox = new Map<string, number>();
  private readonly byRoute = new Map<string, number>();
  private readonly byStatus = new Map<string, number>();
  private throttledCount = 0;
  private total = 0;
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private gate: RequestHold | undefined;

  constructor(private readonly d: GraphApiDeps) {
    this.registerRoutes();
  }

  stats(): RequestStats {
    return {
      byMailbox: Object.fromEntries(this.byMailbox),
      byRoute: Object.fromEntries(this.byRoute),
      byStatus: Object.fromEntries(this.byStatus),
      throttled: this.throttledCount,
      total: this.total,
    };
  }

  resetStats(): void {
    this.byMailbox.clear();
    this.byRoute.clear();
    this.byStatus.clear();
    this.throttledCount = 0;
    this.total = 0;
  }

  /**
   * Holds every admitted mailbox request (after throttling) until released, so tests can put requests in flight
   * deterministically (e.g. to reach the concurrency limit) without timing.
   */
  holdRequests(): RequestHold {
    this.gate?.release();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let count = 0;
    let waiters: { n: number; resolve: () => void }[] = [];
    const hold: RequestHold = {
      wait: () => {
        count += 1;
        waiters = waiters.filter((w) => (count >= w.n ? (w.resolve(), false) : true));
        return gate;
      },
      held: () => count,
      waitForHeld: (n) => (count >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
      release: () => {
        if (this.gate === hold) this.gate = undefined;
        open();
      },
    };
    this.gate = hold;
    return hold;
  }

  /** Ends injected latency waits early (on close). */
  wakeSleepers(): void {
    this.gate?.release();
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.sleepers.clear();
  }

  /** Runs one request through routing, permissions, throttling, faults and the handler. */
  async execute(req: GraphRequest): Promise<GraphResponse> {
    const res = await this.executeInner(req);
    this.byStatus.set(String(res.status), (this.byStatus.get(String(res.status)) ?? 0) + 1);
    return res;
  }

  private async executeInner(req: GraphRequest): Promise<GraphResponse> {
    this.total += 1;
    let release: (() => void) | undefined;
    try {
      const segs = splitSegments(req.path);
      const match = this.match(req.method, segs);
      this.byRoute.set(match.route.template, (this.byRoute.get(match.route.template) ?? 0) + 1);
      const route = match.route;
      if (this.d.enforcePermissions && route.family !== 'subscriptions') {
        const allowed = ROLES[route.family][route.access];
        if (!allowed.some((r) => req.app.roles.has(r))) {
          if (route.family === 'directory') throw new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
          throw new GraphError(403, 'ErrorAccessDenied', `Access is denied. Check credentials and try again. (The app needs one of: ${allowed.join(', ')}.)`);
        }
      }
      const prefs = parsePreferences(req.headers.prefer);
      let mb: Mailbox | undefined;
      const userSeg = match.params.u;
      if (userSeg !== undefined) {
        if (userSeg.toLowerCase() === 'me') throw new GraphError(400, 'BadRequest', '/me request is only valid with delegated authentication flow.');
        mb = this.d.world.findMailbox(userSeg);
        if (!mb) {
          if (route.family === 'directory') throw new GraphError(404, 'Request_ResourceNotFound', `Resource '${userSeg}' does not exist or one of its queried reference-property objects are not present.`);
          throw new GraphError(404, 'ErrorInvalidUser', `The requested user '${userSeg}' is invalid.`);
        }
        this.byMailbox.set(mb.user.id, (this.byMailbox.get(mb.user.id) ?? 0) + 1);
      }
      const key = `${req.app.appId}|${mb?.user.id ?? '-'}`;
      if (mb && route.mailbox) {
        const t = this.d.throttle.acquire(key);
        if (!t.ok) {
          this.throttledCount += 1;
          return { status: 429, headers: { 'Retry-After': String(t.retryAfterSeconds) }, body: throttledBody(req.requestId, this.d.clock.now()) };
        }
        release = t.release;
      }
      if (release && this.gate) await this.gate.wait();
      const fault = this.d.faults.forRequest(req.method, req.path, key);
      if (fault.latencyMs > 0) await this.sleep(fault.latencyMs);
      if (fault.fail && !fault.fail.afterExecution) return this.faultResponse(req, fault.fail);
      const ctx: RouteContext = { req, params: match.params, mb: mb as Mailbox, userSeg: userSeg ?? '', prefs, actor: { kind: 'app', appId: req.app.appId } };
      const res = await route.handler(ctx);
      if (fault.fail) return this.faultResponse(req, fault.fail);
      if (prefs.applied.length > 0) res.headers['Preference-Applied'] = prefs.applied.join(', ');
      return res;
    } catch (err) {
      return this.errorResponse(req, err);
    } finally {
      release?.();
    }
  }

  /** Renders an error in Graph's shape. */
  errorResponse(req: Pick<GraphRequest, 'requestId' | 'clientRequestId'>, err: unknown): GraphResponse {
    if (err instanceof GraphError) return { status: err.status, headers: { ...err.headers }, body: graphErrorBody(err.code, err.message, req.requestId, req.clientRequestId, this.d.clock.now()) };
    const message = err instanceof Error ? err.message : String(err);
    return { status: 500, headers: {}, body: graphErrorBody('InternalServerError', `Simulator error: ${message}`, req.requestId, req.clientRequestId, this.d.clock.now()) };
  }

  private faultResponse(req: GraphRequest, fail: NonNullable<ReturnType<FaultInjector['forRequest']>['fail']>): GraphResponse {
    if (fail.status === 429) {
      this.throttledCount += 1;
      return { status: 429, headers: { 'Retry-After': String(fail.retryAfterSeconds ?? 1) }, body: throttledBody(req.requestId, this.d.clock.now()) };
    }
    const headers: Record<string, string> = fail.retryAfterSeconds !== undefined ? { 'Retry-After': String(fail.retryAfterSeconds) } : {};
    return { status: fail.status, headers, body: graphErrorBody(fail.code, fail.message, req.requestId, req.clientRequestId, this.d.clock.now()) };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleepers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.sleepers.add(entry);
    });
  }

  private match(method: string, segs: string[]): { route: Route; params: Record<string, string> } {
    let pathMatched = false;
    for (const route of this.routes) {
      if (route.pattern.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length; i += 1) {
        const p = route.pattern[i] as string;
        const s = segs[i] as string;
        if (p.startsWith('{')) params[p.slice(1, -1)] = s;
        else if (p !== s.toLowerCase()) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      pathMatched = true;
      if (route.method === method) return { route, params };
    }
    if (pathMatched) throw new GraphError(405, 'BadRequest', `The HTTP method '${method}' is not allowed for this resource.`);
    const first = segs.find((s, i) => !this.routes.some((r) => r.pattern[i] !== undefined && (r.pattern[i]?.startsWith('{') || r.pattern[i] === s.toLowerCase()))) ?? segs[segs.length - 1] ?? '';
    throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${first}'.`);
  }

  private add(method: string, path: string, family: Family, access: Access, handler: Route['handler'], mailbox = true): void {
    const pattern = path.split('/').filter(Boolean).map((s) => (s.startsWith('{') ? s : s.toLowerCase()));
    this.routes.push({ method, pattern, template: `${method} /${path}`, family, access, mailbox, handler });
  }

  // ---- helpers -------------------------------------------------------------------------------------------

  private get base(): string {
    return this.d.baseUrl();
  }

  private json(status: number, body: unknown, headers: Record<string, string> = {}): GraphResponse {
    return { status, headers, body };
  }

  private entity(ctx: RouteContext, spec: ResourceSpec, record: ItemRecord, contextPath: string, status = 200): GraphResponse {
    const opts = presentOptions(ctx.req.query, spec, ctx.prefs);
    return this.json(status, { '@odata.context': `${this.base}/v1.0/$metadata#${contextPath}/$entity`, ...present(spec, record, opts) });
  }

  /** Lists items of some collections with $filter (index-assisted), $orderby, $top/$skip paging and nextLink. */
  private list(
    ctx: RouteContext,
    args: {
      spec: ResourceSpec;
      kind: ItemKind;
      collections: string[];
      contextPath: string;
      linkPath: string;
      where?: (r: ItemRecord) => boolean;
      defaultOrder?: (a: ItemRecord, b: ItemRecord) => number;
    },
  ): GraphResponse {
    const q = ctx.req.query;
    const filterText = queryParam(q, '$filter');
    const filter: FilterExpr | undefined = filterText ? parseFilter(filterText) : undefined;
    const orderText = queryParam(q, '$orderby');
    const order = orderText ? parseOrderBy(orderText) : undefined;
    const limits = this.d.limits();
    const top = Math.min(intParam(q, '$top') ?? ctx.prefs.maxPageSize ?? limits.defaultPageSize, limits.maxPageSize);
    const skip = intParam(q, '$skip') ?? 0;
    const opts = presentOptions(q, args.spec, ctx.prefs);
    const allowed = new Set(args.collections);
    let candidates: Iterable<string>;
    const hints = filter ? indexHints(filter) : [];
    if (hints.length > 0) {
      let best: ReadonlySet<string> | undefined;
      for (const h of hints) {
        const set = ctx.mb.index.get(`${args.kind}|${h}`);
        if (!best || set.size < best.size) best = set;
      }
      candidates = best ?? [];
    } else {
      const world = this.d.world;
      candidates = (function* () {
        for (const key of args.collections) yield* world.collections.get(key)?.ids ?? [];
      })();
    }
    const needAll = order !== undefined || args.defaultOrder !== undefined;
    const matches: ItemRecord[] = [];
    for (const id of candidates) {
      const record = this.d.world.items.get(id);
      if (!record || !allowed.has(record.collectionKey)) continue;
      if (args.where && !args.where(record)) continue;
      if (filter && !matchesFilter(filter, filterView(args.spec, record))) continue;
      matches.push(record);
      if (!needAll && matches.length > skip + top) break;
    }
    if (order) {
      const views = new Map(matches.map((r) => [r.id, filterView(args.spec, r)]));
      matches.sort((a, b) => {
        for (const o of order) {
          const c = compareValues(readPath(views.get(a.id), o.path), readPath(views.get(b.id), o.path));
          if (c !== 0) return o.desc ? -c : c;
        }
        return 0;
      });
    } else if (args.defaultOrder) matches.sort(args.defaultOrder);
    const page = matches.slice(skip, skip + top);
    const body: Record<string, unknown> = {
      '@odata.context': `${this.base}/v1.0/$metadata#${args.contextPath}${opts.select ? `(${[...opts.select].join(',')})` : ''}`,
      value: page.map((r) => present(args.spec, r, opts)),
    };
    if (matches.length > skip + top) {
      const next = new URLSearchParams();
      for (const [k, v] of q) if (k.toLowerCase() !== '$skip' && k.toLowerCase() !== '$top') next.append(k, v);
      next.set('$top', String(top));
      next.set('$skip', String(skip + top));
      body['@odata.nextLink'] = `${this.base}/v1.0${args.linkPath}?${next.toString().replace(/%24/g, '$')}`;
    }
    return this.json(200, body);
  }

  private deltaPage(ctx: RouteContext, page: DeltaPage, spec: ResourceSpec, odataType: string | undefined, contextType: string): GraphResponse {
    const opts = presentOptions(new URLSearchParams(), spec, ctx.prefs, page.scope.select);
    const value = page.entries.map((e) => {
      if ('removedId' in e) return { ...(odataType ? { '@odata.type': odataType } : {}), id: e.removedId, '@removed': { reason: 'deleted' } };
      return { ...(odataType ? { '@odata.type': odataType } : {}), ...present(spec, e.record, opts) };
    });
    const body: Record<string, unknown> = { '@odata.context': `${this.base}/v1.0/$metadata#Collection(${contextType})` };
    if (page.nextLink) body['@odata.nextLink'] = page.nextLink;
    if (page.deltaLink) body['@odata.deltaLink'] = page.deltaLink;
    body.value = value;
    return this.json(200, body);
  }

  /** Shared logic of every delta endpoint: resume from a token, or start a round with `scope()`. */
  private delta(ctx: RouteContext, spec: ResourceSpec, odataType: string | undefined, contextType: string, scope: () => DeltaScope): GraphResponse {
    const q = ctx.req.query;
    const pageSize = ctx.prefs.maxPageSize ?? intParam(q, '$top');
    const skipToken = queryParam(q, '$skiptoken');
    const deltaToken = queryParam(q, '$deltatoken');
    const token = skipToken ?? deltaToken;
    let page: DeltaPage;
    if (token !== undefined) {
      page = this.d.delta.resume(token, skipToken !== undefined ? 'skip' : 'delta', pageSize ?? this.d.limits().defaultDeltaPageSize, this.d.faults.evictDeltaToken());
    } else {
      page = this.d.delta.start(scope(), pageSize ?? this.d.limits().defaultDeltaPageSize);
    }
    return this.deltaPage(ctx, page, spec, odataType, contextType);
  }

  private window(q: URLSearchParams): { start: number; end: number; startText: string; endText: string } {
    const s = queryParam(q, 'startDateTime');
    const e = queryParam(q, 'endDateTime');
    if (!s || !e) throw new GraphError(400, 'ErrorInvalidParameter', 'This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.');
    const parse = (v: string) => {
      const withZone = /(Z|[+-]\d{2}:\d{2})$/i.test(v) ? v : `${v}Z`;
      const t = Date.parse(withZone);
      if (Number.isNaN(t)) throw new GraphError(400, 'ErrorInvalidParameter', `The value '${v}' of parameter 'StartDateTime/EndDateTime' is not a valid date and time.`);
      return t;
    };
    return { start: parse(s), end: parse(e), startText: s, endText: e };
  }

  private calendarCheck(ctx: RouteContext): void {
    const cal = ctx.params.cal;
    if (cal !== undefined && cal !== ctx.mb.calendarId) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  }

  // ---- routes --------------------------------------------------------------------------------------------

  private registerRoutes(): void {
    const { world, events, contacts, todo, messages, subscriptions } = this.d;
    const ok204 = (): GraphResponse => ({ status: 204, headers: {} });
    const accepted = (): GraphResponse => ({ status: 202, headers: {} });

    // Directory users and mailbox settings.
    this.add(
      'GET',
      'users',
      'directory',
      'read',
      (ctx) => {
        const filterText = queryParam(ctx.req.query, '$filter');
        const filter = filterText ? parseFilter(filterText) : undefined;
        const users = [...world.mailboxes.values()].map((m) => this.userView(m)).filter((u) => !filter || matchesFilter(filter, u));
        return this.json(200, { '@odata.context': `${this.base}/v1.0/$metadata#users`, value: users });
      },
      false,
    );
    this.add('GET', 'users/{u}', 'directory', 'read', (ctx) => this.json(200, { '@odata.context': `${this.base}/v1.0/$metadata#users/$entity`, ...this.selectUser(this.userView(ctx.mb), ctx.req.query) }), false);
    this.add('GET', 'users/{u}/mailboxSettings', 'mailboxSettings', 'read', (ctx) => this.json(200, this.mailboxSettings(ctx)));
    this.add('GET', 'users/{u}/mailboxSettings/timeZone', 'mailboxSettings', 'read', (ctx) =>
      this.json(200, { '@odata.context': `${this.base}/v1.0/$metadata#users('${ctx.userSeg}')/mailboxSettings/timeZone`, value: ctx.mb.user.timeZone.windows }),
    );

    // Calendars.
    const calendarView = (ctx: RouteContext) => ({ id: ctx.mb.calendarId, name: 'Calendar', color: 'auto', hexColor: '', isDefaultCalendar: true, changeKey: 'DwAAABYAAAA', canShare: true, canViewPrivateItems: true, canEdit: true, allowedOnlineMeetingProviders: ['teamsForBusiness'], defaultOnlineMeetingProvider: 'teamsForBusiness', isTallyingResponses: true, isRemovable: false, owner: { name: ctx.mb.user.displayName, address: ctx.mb.user.mail } });
    this.add('GET', 'users/{u}/calendar', 'calendar', 'read', (ctx) => this.json(200, { '@odata.context': `${this.base}/v1.0/$metadata#users('${ctx.userSeg}')/calendar/$entity`, ...calendarView(ctx) }));
    this.add('GET', 'users/{u}/calendars', 'calendar', 'read', (ctx) => this.json(200, { '@odata.context': `${this.base}/v1.0/$metadata#users('${ctx.userSeg}')/calendars`, value: [calendarView(ctx)] }));
    this.add('GET', 'users/{u}/calendars/{cal}', 'calendar', 'read', (ctx) => {
      this.calendarCheck(ctx);
      return this.json(200, { '@odata.context': `${this.base}/v1.0/$metadata#users('${ctx.userSeg}')/calendars/$entity`, ...calendarView(ctx) });
    });

    for (const prefix of ['events', 'calendar/events', 'calendars/{cal}/events']) {
      const p = `users/{u}/${prefix}`;
      this.add('GET', p, 'calendar', 'read', (ctx) => {
        this.calendarCheck(ctx);
        return this.list(ctx, { spec: eventSpec, kind: 'event', collections: [events.collectionKey(ctx.mb)], contextPath: `users('${ctx.userSeg}')/events`, linkPath: `/users/${ctx.userSeg}/${prefix.replace('{cal}', ctx.params.cal ?? '')}` });
      });
      this.add('POST', p, 'calendar', 'write', (ctx) => {
        this.calendarCheck(ctx);
        const { record } = events.create(ctx.mb, ctx.req.body, ctx.actor);
        return this.entity(ctx, eventSpec, record, `users('${ctx.userSeg}')/events`, 201);
      });
      this.add('GET', `${p}/{id}`, 'calendar', 'read', (ctx) => {
        this.calendarCheck(ctx);
        return this.entity(ctx, eventSpec, world.get(events.collectionKey(ctx.mb), ctx.params.id as string), `users('${ctx.userSeg}')/events`);
      });
      this.add('PATCH', `${p}/{id}`, 'calendar', 'write', (ctx) => {
        this.calendarCheck(ctx);
        const record = events.update(ctx.mb, ctx.params.id as string, ctx.req.body, ctx.actor, ctx.req.headers['if-match']);
        return this.entity(ctx, eventSpec, record, `users('${ctx.userSeg}')/events`);
      });
      this.add('DELETE', `${p}/{id}`, 'calendar', 'write', (ctx) => {
        this.calendarCheck(ctx);
        events.delete(ctx.mb, ctx.params.id as string, ctx.actor, ctx.req.headers['if-match']);
        return ok204();
      });
      this.add('POST', `${p}/{id}/cancel`, 'calendar', 'write', (ctx) => {
        this.calendarCheck(ctx);
        events.cancel(ctx.mb, ctx.params.id as string, ctx.actor);
        return accepted();
      });
      for (const [action, response] of [
        ['accept', 'accepted'],
        ['tentativelyaccept', 'tentativelyAccepted'],
        ['decline', 'declined'],
      ] as const) {
        this.add('POST', `${p}/{id}/${action}`, 'calendar', 'write', (ctx) => {
          this.calendarCheck(ctx);
          const body = z.object({ comment: z.string().optional(), sendResponse: z.boolean().optional() }).passthrough().safeParse(ctx.req.body ?? {});
          if (!body.success) throw new GraphError(400, 'RequestBodyRead', 'sendResponse must be a boolean.');
          events.respond(ctx.mb, ctx.params.id as string, response, body.data.sendResponse ?? true, ctx.actor);
          return accepted();
        });
      }
    }

    for (const prefix of ['calendarView', 'calendar/calendarView', 'calendars/{cal}/calendarView']) {
      const p = `users/{u}/${prefix}`;
      this.add('GET', p, 'calendar', 'read', (ctx) => {
        this.calendarCheck(ctx);
        const w = this.window(ctx.req.query);
        return this.list(ctx, {
          spec: eventSpec,
          kind: 'event',
          collections: [events.collectionKey(ctx.mb)],
          contextPath: `users('${ctx.userSeg}')/calendarView`,
          linkPath: `/users/${ctx.userSeg}/${prefix.replace('{cal}', ctx.params.cal ?? '')}`,
          where: (r) => {
            const d = r.data as { start: number; end: number };
            return d.start < w.end && (d.end > w.start || (d.end === d.start && d.start >= w.start));
          },
          defaultOrder: (a, b) => (a.data as { start: number }).start - (b.data as { start: number }).start,
        });
      });
      this.add('GET', `${p}/delta`, 'calendar', 'read', (ctx) => {
        this.calendarCheck(ctx);
        return this.delta(ctx, eventSpec, '#microsoft.graph.event', 'event', () => {
          const w = this.window(ctx.req.query);
          const linkBase = `${this.base}/v1.0/users/${ctx.userSeg}/${prefix.replace('{cal}', ctx.params.cal ?? '')}/delta`;
          return {
            userId: ctx.mb.user.id,
            collectionKey: events.collectionKey(ctx.mb),
            window: { start: w.start, end: w.end },
            linkBase,
            restartUrl: `${linkBase}?startDateTime=${encodeURIComponent(w.startText)}&endDateTime=${encodeURIComponent(w.endText)}`,
          };
        });
      });
    }

    // Contacts and contact folders.
    this.add('GET', 'users/{u}/contacts', 'contacts', 'read', (ctx) =>
      this.list(ctx, { spec: contactSpec, kind: 'contact', collections: [contacts.contactsKey(ctx.mb, ctx.mb.defaultContactFolderId)], contextPath: `users('${ctx.userSeg}')/contacts`, linkPath: `/users/${ctx.userSeg}/contacts` }),
    );
    this.add('POST', 'users/{u}/contacts', 'contacts', 'write', (ctx) => this.entity(ctx, contactSpec, contacts.create(ctx.mb, ctx.mb.defaultContactFolderId, ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/contacts`, 201));
    this.add('GET', 'users/{u}/contacts/{id}', 'contacts', 'read', (ctx) => this.entity(ctx, contactSpec, contacts.find(ctx.mb, ctx.params.id as string), `users('${ctx.userSeg}')/contacts`));
    this.add('PATCH', 'users/{u}/contacts/{id}', 'contacts', 'write', (ctx) =>
      this.entity(ctx, contactSpec, contacts.update(contacts.find(ctx.mb, ctx.params.id as string), ctx.req.body, ctx.actor, ctx.req.headers['if-match']), `users('${ctx.userSeg}')/contacts`),
    );
    this.add('DELETE', 'users/{u}/contacts/{id}', 'contacts', 'write', (ctx) => {
      contacts.delete(contacts.find(ctx.mb, ctx.params.id as string), ctx.actor, ctx.req.headers['if-match']);
      return ok204();
    });
    this.add('GET', 'users/{u}/contactFolders', 'contacts', 'read', (ctx) =>
      this.list(ctx, { spec: contactFolderSpec, kind: 'contactFolder', collections: [contacts.folderCollectionKey(ctx.mb)], contextPath: `users('${ctx.userSeg}')/contactFolders`, linkPath: `/users/${ctx.userSeg}/contactFolders` }),
    );
    this.add('POST', 'users/{u}/contactFolders', 'contacts', 'write', (ctx) => this.entity(ctx, contactFolderSpec, contacts.createFolder(ctx.mb, ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/contactFolders`, 201));
    this.add('GET', 'users/{u}/contactFolders/{f}', 'contacts', 'read', (ctx) => {
      const id = contacts.folderId(ctx.mb, ctx.params.f as string);
      const view = id === ctx.mb.defaultContactFolderId ? contacts.defaultFolderView(ctx.mb) : present(contactFolderSpec, world.items.get(id) as ItemRecord, presentOptions(ctx.req.query, contactFolderSpec, ctx.prefs));
      return this.json(200, { '@odata.context': `${this.base}/v1.0/$metadata#users('${ctx.userSeg}')/contactFolders/$entity`, ...view });
    });
    this.add('PATCH', 'users/{u}/contactFolders/{f}', 'contacts', 'write', (ctx) =>
      this.entity(ctx, contactFolderSpec, contacts.updateFolder(ctx.mb, contacts.folderId(ctx.mb, ctx.params.f as string), ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/contactFolders`),
    );
    this.add('DELETE', 'users/{u}/contactFolders/{f}', 'contacts', 'write', (ctx) => {
      contacts.deleteFolder(ctx.mb, contacts.folderId(ctx.mb, ctx.params.f as string), ctx.actor);
      return ok204();
    });
    this.add('GET', 'users/{u}/contactFolders/{f}/contacts/delta', 'contacts', 'read', (ctx) => {
      const folderId = contacts.folderId(ctx.mb, ctx.params.f as string);
      return this.delta(ctx, contactSpec, '#microsoft.graph.contact', 'contact', () => {
        const linkBase = `${this.base}/v1.0/users/${ctx.userSeg}/contactFolders/${ctx.params.f ?? ''}/contacts/delta`;
        const select = selectList(ctx.req.query);
        return { userId: ctx.mb.user.id, collectionKey: contacts.contactsKey(ctx.mb, folderId), linkBase, restartUrl: linkBase, ...(select ? { select } : {}) };
      });
    });
    this.add('GET', 'users/{u}/contactFolders/{f}/contacts', 'contacts', 'read', (ctx) =>
      this.list(ctx, {
        spec: contactSpec,
        kind: 'contact',
        collections: [contacts.contactsKey(ctx.mb, contacts.folderId(ctx.mb, ctx.params.f as string))],
        contextPath: `users('${ctx.userSeg}')/contactFolders('${ctx.params.f ?? ''}')/contacts`,
        linkPath: `/users/${ctx.userSeg}/contactFolders/${ctx.params.f ?? ''}/contacts`,
      }),
    );
    this.add('POST', 'users/{u}/contactFolders/{f}/contacts', 'contacts', 'write', (ctx) =>
      this.entity(ctx, contactSpec, contacts.create(ctx.mb, contacts.folderId(ctx.mb, ctx.params.f as string), ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/contacts`, 201),
    );
    const folderContact = (ctx: RouteContext) => world.get(contacts.contactsKey(ctx.mb, contacts.folderId(ctx.mb, ctx.params.f as string)), ctx.params.id as string) as ReturnType<ContactService['find']>;
    this.add('GET', 'users/{u}/contactFolders/{f}/contacts/{id}', 'contacts', 'read', (ctx) => this.entity(ctx, contactSpec, folderContact(ctx), `users('${ctx.userSeg}')/contacts`));
    this.add('PATCH', 'users/{u}/contactFolders/{f}/contacts/{id}', 'contacts', 'write', (ctx) =>
      this.entity(ctx, contactSpec, contacts.update(folderContact(ctx), ctx.req.body, ctx.actor, ctx.req.headers['if-match']), `users('${ctx.userSeg}')/contacts`),
    );
    this.add('DELETE', 'users/{u}/contactFolders/{f}/contacts/{id}', 'contacts', 'write', (ctx) => {
      contacts.delete(folderContact(ctx), ctx.actor, ctx.req.headers['if-match']);
      return ok204();
    });

    // To Do.
    this.add('GET', 'users/{u}/todo/lists', 'tasks', 'read', (ctx) =>
      this.list(ctx, { spec: taskListSpec, kind: 'todoTaskList', collections: [todo.listsKey(ctx.mb)], contextPath: `users('${ctx.userSeg}')/todo/lists`, linkPath: `/users/${ctx.userSeg}/todo/lists` }),
    );
    this.add('POST', 'users/{u}/todo/lists', 'tasks', 'write', (ctx) => this.entity(ctx, taskListSpec, todo.createList(ctx.mb, ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/todo/lists`, 201));
    this.add('GET', 'users/{u}/todo/lists/delta', 'tasks', 'read', (ctx) =>
      this.delta(ctx, taskListSpec, '#microsoft.graph.todoTaskList', 'todoTaskList', () => {
        const linkBase = `${this.base}/v1.0/users/${ctx.userSeg}/todo/lists/delta`;
        return { userId: ctx.mb.user.id, collectionKey: todo.listsKey(ctx.mb), linkBase, restartUrl: linkBase };
      }),
    );
    this.add('GET', 'users/{u}/todo/lists/{l}', 'tasks', 'read', (ctx) => this.entity(ctx, taskListSpec, todo.list(ctx.mb, ctx.params.l as string), `users('${ctx.userSeg}')/todo/lists`));
    this.add('PATCH', 'users/{u}/todo/lists/{l}', 'tasks', 'write', (ctx) => this.entity(ctx, taskListSpec, todo.updateList(ctx.mb, ctx.params.l as string, ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/todo/lists`));
    this.add('DELETE', 'users/{u}/todo/lists/{l}', 'tasks', 'write', (ctx) => {
      todo.deleteList(ctx.mb, ctx.params.l as string, ctx.actor);
      return ok204();
    });
    this.add('GET', 'users/{u}/todo/lists/{l}/tasks/delta', 'tasks', 'read', (ctx) => {
      todo.list(ctx.mb, ctx.params.l as string);
      return this.delta(ctx, taskSpec, undefined, 'todoTask', () => {
        const linkBase = `${this.base}/v1.0/users/${ctx.userSeg}/todo/lists/${ctx.params.l ?? ''}/tasks/delta`;
        const select = selectList(ctx.req.query);
        return { userId: ctx.mb.user.id, collectionKey: todo.tasksKey(ctx.mb, ctx.params.l as string), linkBase, restartUrl: linkBase, ...(select ? { select } : {}) };
      });
    });
    this.add('GET', 'users/{u}/todo/lists/{l}/tasks', 'tasks', 'read', (ctx) => {
      todo.list(ctx.mb, ctx.params.l as string);
      return this.list(ctx, {
        spec: taskSpec,
        kind: 'todoTask',
        collections: [todo.tasksKey(ctx.mb, ctx.params.l as string)],
        contextPath: `users('${ctx.userSeg}')/todo/lists('${ctx.params.l ?? ''}')/tasks`,
        linkPath: `/users/${ctx.userSeg}/todo/lists/${ctx.params.l ?? ''}/tasks`,
      });
    });
    this.add('POST', 'users/{u}/todo/lists/{l}/tasks', 'tasks', 'write', (ctx) => {
      const record = todo.createTask(ctx.mb, ctx.params.l as string, ctx.req.body, ctx.actor);
      const res = this.entity(ctx, taskSpec, record, `users('${ctx.userSeg}')/todo/lists('${ctx.params.l ?? ''}')/tasks`, 201);
      if (record.data.linkedResources.length > 0) (res.body as Record<string, unknown>).linkedResources = record.data.linkedResources.map((l) => ({ ...l }));
      return res;
    });
    const task = (ctx: RouteContext): TaskRecord => todo.task(ctx.mb, ctx.params.l as string, ctx.params.t as string);
    this.add('GET', 'users/{u}/todo/lists/{l}/tasks/{t}', 'tasks', 'read', (ctx) => this.entity(ctx, taskSpec, task(ctx), `users('${ctx.userSeg}')/todo/lists('${ctx.params.l ?? ''}')/tasks`));
    this.add('PATCH', 'users/{u}/todo/lists/{l}/tasks/{t}', 'tasks', 'write', (ctx) =>
      this.entity(ctx, taskSpec, todo.updateTask(task(ctx), ctx.req.body, ctx.actor, ctx.req.headers['if-match']), `users('${ctx.userSeg}')/todo/lists('${ctx.params.l ?? ''}')/tasks`),
    );
    this.add('DELETE', 'users/{u}/todo/lists/{l}/tasks/{t}', 'tasks', 'write', (ctx) => {
      todo.deleteTask(task(ctx), ctx.actor, ctx.req.headers['if-match']);
      return ok204();
    });
    this.add('GET', 'users/{u}/todo/lists/{l}/tasks/{t}/linkedResources', 'tasks', 'read', (ctx) =>
      this.json(200, { '@odata.context': `${this.base}/v1.0/$metadata#users('${ctx.userSeg}')/todo/lists('${ctx.params.l ?? ''}')/tasks('${ctx.params.t ?? ''}')/linkedResources`, value: task(ctx).data.linkedResources.map((l) => ({ ...l })) }),
    );
    this.add('POST', 'users/{u}/todo/lists/{l}/tasks/{t}/linkedResources', 'tasks', 'write', (ctx) => this.json(201, { ...todo.addLinkedResource(task(ctx), ctx.req.body, ctx.actor) }));
    this.add('DELETE', 'users/{u}/todo/lists/{l}/tasks/{t}/linkedResources/{lr}', 'tasks', 'write', (ctx) => {
      todo.removeLinkedResource(task(ctx), ctx.params.lr as string, ctx.actor);
      return ok204();
    });

    // Mail.
    const allMailCollections = (mb: Mailbox) => [...mb.mailFolders.values()].map((f) => collectionKeys.messages(mb.user.id, f));
    this.add('GET', 'users/{u}/messages', 'mail', 'read', (ctx) =>
      this.list(ctx, { spec: messageSpec, kind: 'message', collections: allMailCollections(ctx.mb), contextPath: `users('${ctx.userSeg}')/messages`, linkPath: `/users/${ctx.userSeg}/messages` }),
    );
    this.add('POST', 'users/{u}/messages', 'mail', 'write', (ctx) => this.entity(ctx, messageSpec, messages.create(ctx.mb, ctx.mb.mailFolders.get('drafts') as string, ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/messages`, 201));
    this.add('GET', 'users/{u}/messages/{id}', 'mail', 'read', (ctx) => this.entity(ctx, messageSpec, messages.find(ctx.mb, ctx.params.id as string), `users('${ctx.userSeg}')/messages`));
    this.add('PATCH', 'users/{u}/messages/{id}', 'mail', 'write', (ctx) =>
      this.entity(ctx, messageSpec, messages.update(messages.find(ctx.mb, ctx.params.id as string), ctx.req.body, ctx.actor, ctx.req.headers['if-match']), `users('${ctx.userSeg}')/messages`),
    );
    this.add('DELETE', 'users/{u}/messages/{id}', 'mail', 'write', (ctx) => {
      messages.delete(messages.find(ctx.mb, ctx.params.id as string), ctx.actor, ctx.req.headers['if-match']);
      return ok204();
    });
    this.add('POST', 'users/{u}/messages/{id}/send', 'mail', 'send', (ctx) => {
      messages.send(ctx.mb, messages.find(ctx.mb, ctx.params.id as string), ctx.actor);
      return accepted();
    });
    this.add('POST', 'users/{u}/sendMail', 'mail', 'send', (ctx) => {
      messages.sendMail(ctx.mb, ctx.req.body, ctx.actor);
      return accepted();
    });
    this.add('GET', 'users/{u}/mailFolders', 'mail', 'read', (ctx) =>
      this.list(ctx, { spec: mailFolderSpec, kind: 'mailFolder', collections: [collectionKeys.mailFolders(ctx.mb.user.id)], contextPath: `users('${ctx.userSeg}')/mailFolders`, linkPath: `/users/${ctx.userSeg}/mailFolders` }),
    );
    this.add('GET', 'users/{u}/mailFolders/{f}', 'mail', 'read', (ctx) =>
      this.entity(ctx, mailFolderSpec, world.items.get(messages.folderId(ctx.mb, ctx.params.f as string)) as ItemRecord, `users('${ctx.userSeg}')/mailFolders`),
    );
    this.add('GET', 'users/{u}/mailFolders/{f}/messages/delta', 'mail', 'read', (ctx) => {
      const folderId = messages.folderId(ctx.mb, ctx.params.f as string);
      return this.delta(ctx, messageSpec, '#microsoft.graph.message', 'message', () => {
        const linkBase = `${this.base}/v1.0/users/${ctx.userSeg}/mailFolders/${ctx.params.f ?? ''}/messages/delta`;
        const select = selectList(ctx.req.query);
        return { userId: ctx.mb.user.id, collectionKey: messages.folderKey(ctx.mb, folderId), linkBase, restartUrl: linkBase, ...(select ? { select } : {}) };
      });
    });
    this.add('GET', 'users/{u}/mailFolders/{f}/messages', 'mail', 'read', (ctx) =>
      this.list(ctx, {
        spec: messageSpec,
        kind: 'message',
        collections: [messages.folderKey(ctx.mb, messages.folderId(ctx.mb, ctx.params.f as string))],
        contextPath: `users('${ctx.userSeg}')/mailFolders('${ctx.params.f ?? ''}')/messages`,
        linkPath: `/users/${ctx.userSeg}/mailFolders/${ctx.params.f ?? ''}/messages`,
      }),
    );
    this.add('POST', 'users/{u}/mailFolders/{f}/messages', 'mail', 'write', (ctx) =>
      this.entity(ctx, messageSpec, messages.create(ctx.mb, messages.folderId(ctx.mb, ctx.params.f as string), ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/messages`, 201),
    );

    // Subscriptions.
    this.add('GET', 'subscriptions', 'subscriptions', 'read', (ctx) => this.json(200, { '@odata.context': `${this.base}/v1.0/$metadata#subscriptions`, value: subscriptions.list(ctx.req.app).map((s) => stripContext(subscriptions.render(s, this.base))) }), false);
    this.add('POST', 'subscriptions', 'subscriptions', 'write', async (ctx) => this.json(201, subscriptions.render(await subscriptions.create(ctx.req.body, ctx.req.app), this.base)), false);
    this.add('GET', 'subscriptions/{id}', 'subscriptions', 'read', (ctx) => this.json(200, subscriptions.render(subscriptions.get(ctx.params.id as string, ctx.req.app), this.base)), false);
    this.add('PATCH', 'subscriptions/{id}', 'subscriptions', 'write', async (ctx) => this.json(200, subscriptions.render(await subscriptions.update(ctx.params.id as string, ctx.req.body, ctx.req.app), this.base)), false);
    this.add(
      'DELETE',
      'subscriptions/{id}',
      'subscriptions',
      'write',
      (ctx) => {
        subscriptions.delete(ctx.params.id as string, ctx.req.app);
        return ok204();
      },
      false,
    );
    this.add(
      'POST',
      'subscriptions/{id}/reauthorize',
      'subscriptions',
      'write',
      (ctx) => {
        subscriptions.reauthorize(ctx.params.id as string, ctx.req.app);
        return ok204();
      },
      false,
    );
  }

  private userView(mb: Mailbox): Record<string, unknown> {
    const u = mb.user;
    return { businessPhones: [], displayName: u.displayName, givenName: u.givenName, jobTitle: null, mail: u.mail, mobilePhone: null, officeLocation: null, preferredLanguage: null, surname: u.surname, userPrincipalName: u.userPrincipalName, id: u.id };
  }

  private selectUser(view: Record<string, unknown>, q: URLSearchParams): Record<string, unknown> {
    const select = queryParam(q, '$select');
    if (!select) return view;
    const wanted = new Set(select.split(',').map((s) => s.trim().toLowerCase()));
    return Object.fromEntries(Object.entries(view).filter(([k]) => wanted.has(k.toLowerCase())));
  }

  private mailboxSettings(ctx: RouteContext): Record<string, unknown> {
    const tz = ctx.mb.user.timeZone.windows;
    const never = { dateTime: '2020-01-01T00:00:00.0000000', timeZone: 'UTC' };
    return {
      '@odata.context': `${this.base}/v1.0/$metadata#users('${ctx.userSeg}')/mailboxSettings`,
      archiveFolder: ctx.mb.mailFolders.get('deleteditems'),
      timeZone: tz,
      delegateMeetingMessageDeliveryOptions: 'sendToDelegateOutlookAndInformationToPrincipal',
      dateFormat: 'M/d/yyyy',
      timeFormat: 'h:mm tt',
      userPurpose: 'user',
      automaticRepliesSetting: { status: 'disabled', externalAudience: 'all', internalReplyMessage: '', externalReplyMessage: '', scheduledStartDateTime: never, scheduledEndDateTime: never },
      language: { locale: 'en-US', displayName: 'English (United States)' },
      workingHours: { daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'], startTime: '08:00:00.0000000', endTime: '17:00:00.0000000', timeZone: { name: tz } },
    };
  }
}

function stripContext(o: Record<string, unknown>): Record<string, unknown> {
  const { ['@odata.context']: _ignored, ...rest } = o;
  return rest;
}
