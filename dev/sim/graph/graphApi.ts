// The /v1.0 surface: route table, permission checks, mailbox resolution, throttling and request faults, and request
// counts. Transport-free (a request in, a response out) so that $batch reuses it for its inner requests. The
// handlers live with their resource family (resources/*.routes.ts, subscriptions.routes.ts) and are added here
// through RouteRegistrar.
import type { DeltaEngine } from './delta.js';
import type { FaultInjector } from './faults.js';
import { GraphError, graphErrorBody, throttledBody } from './graphError.js';
import type { GraphSimLimits } from './options.js';
import { parsePreferences } from './requestOptions.js';
import { registerContactRoutes } from './resources/contacts.routes.js';
import type { ContactService } from './resources/contacts.js';
import { registerDirectoryRoutes } from './resources/directory.routes.js';
import { registerEventRoutes } from './resources/events.routes.js';
import type { EventService } from './resources/events.js';
import { registerMailboxSettingsRoutes } from './resources/mailboxSettings.routes.js';
import { registerMessageRoutes } from './resources/messages.routes.js';
import type { MessageService } from './resources/messages.js';
import { Responses } from './resources/responses.js';
import { registerTodoRoutes } from './resources/todo.routes.js';
import type { TodoService } from './resources/todo.js';
import type { Access, Family, GraphRequest, GraphResponse, RouteContext, RouteHandler, RouteRegistrar } from './routing.js';
import type { Mailbox, MailboxUnavailability } from './store.js';
import { registerSubscriptionRoutes } from './subscriptions.routes.js';
import { splitSegments, type SubscriptionManager } from './subscriptions.js';
import type { Throttle } from './throttle.js';
import type { TimeSource } from './clock.js';
import type { World } from './world.js';

export type { GraphRequest, GraphResponse } from './routing.js';

interface Route {
  method: string;
  pattern: string[];
  template: string;
  family: Family;
  access: Access;
  mailbox: boolean;
  handler: RouteHandler;
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
  /** Whether the gate holds this request ("METHOD /path", the path after /v1.0 as the fault plan's routes see it). */
  holds(request: string): boolean;
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
  /**
   * Per mailbox (user id), the most requests of one app in flight at once since the last reset, counting a request
   * that arrived and was refused for concurrency: what Outlook's limit of 4 concurrent requests is measured against.
   */
  peakConcurrentByMailbox: Record<string, number>;
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
    const routes: RouteRegistrar = { add: (method, path, family, access, handler, mailbox) => this.add(method, path, family, access, handler, mailbox) };
    const res = new Responses({ world: d.world, delta: d.delta, faults: d.faults, limits: d.limits, baseUrl: d.baseUrl });
    // Matching takes the first route that fits, in this order.
    registerDirectoryRoutes(routes, res, d.world);
    registerMailboxSettingsRoutes(routes, res);
    registerEventRoutes(routes, res, d.events, d.world);
    registerContactRoutes(routes, res, d.contacts, d.world);
    registerTodoRoutes(routes, res, d.todo);
    registerMessageRoutes(routes, res, d.messages, d.world);
    registerSubscriptionRoutes(routes, res, d.subscriptions);
  }

  stats(): RequestStats {
    return {
      byMailbox: Object.fromEntries(this.byMailbox),
      byRoute: Object.fromEntries(this.byRoute),
      byStatus: Object.fromEntries(this.byStatus),
      throttled: this.throttledCount,
      total: this.total,
      peakConcurrentByMailbox: peaksByMailbox(this.d.throttle.peaks()),
    };
  }

  resetStats(): void {
    this.byMailbox.clear();
    this.byRoute.clear();
    this.byStatus.clear();
    this.throttledCount = 0;
    this.total = 0;
    this.d.throttle.resetPeaks();
  }

  /**
   * Holds every admitted mailbox request (after throttling) until released, or only those whose "METHOD /path"
   * `match` matches (e.g. the sends of a mail, while its other requests go on), so tests can put requests in flight
   * deterministically (e.g. to reach the concurrency limit) without timing.
   */
  holdRequests(match?: RegExp): RequestHold {
    this.gate?.release();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let count = 0;
    let waiters: { n: number; resolve: () => void }[] = [];
    const hold: RequestHold = {
      holds: (request) => match === undefined || match.test(request),
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
        if (mb.unavailable) {
          const refused = unavailableError(mb.unavailable, route.family === 'directory', userSeg);
          if (refused) throw refused;
        }
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
      if (release && this.gate?.holds(`${req.method} ${req.path}`)) await this.gate.wait();
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

  private add(method: string, path: string, family: Family, access: Access, handler: RouteHandler, mailbox = true): void {
    const pattern = path.split('/').filter(Boolean).map((s) => (s.startsWith('{') ? s : s.toLowerCase()));
    this.routes.push({ method, pattern, template: `${method} /${path}`, family, access, mailbox, handler });
  }
}

/**
 * What Graph answers for a mailbox that cannot be reached. A deleted user is gone from the directory too; an
 * unlicensed mailbox or one an access policy leaves out still has its user object.
 * MailboxNotEnabledForRESTAPI: "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
 * Access policy: https://learn.microsoft.com/graph/auth-limit-mailbox-access#handling-api-errors
 */
function unavailableError(why: MailboxUnavailability, directory: boolean, userSeg: string): GraphError | undefined {
  switch (why) {
    case 'removed':
      return directory
        ? new GraphError(404, 'Request_ResourceNotFound', `Resource '${userSeg}' does not exist or one of its queried reference-property objects are not present.`)
        : new GraphError(404, 'ErrorInvalidUser', `The requested user '${userSeg}' is invalid.`);
    case 'unlicensed':
      return directory ? undefined : new GraphError(404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.');
    case 'accessPolicy':
      return directory ? undefined : new GraphError(403, 'ErrorAccessDenied', 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.');
  }
}

/** Peaks per app|mailbox key as peaks per mailbox (the largest over the apps). */
function peaksByMailbox(peaks: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of peaks) {
    const mailbox = key.slice(key.indexOf('|') + 1);
    out[mailbox] = Math.max(out[mailbox] ?? 0, n);
  }
  return out;
}
