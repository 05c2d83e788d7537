// Wires the Graph simulator together and serves it over HTTPS: /v1.0 (bearer tokens from the local identity
// provider with audience https://graph.microsoft.com), /v1.0/$batch, and the admin API under /_sim/.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, bearerToken, observeRequests, readBody, sendJson, startHttpsServer } from '../common/https.js';
import { startIdentityProvider, type IdentityProvider, type TokenClaims } from '../identity/index.js';
import { GraphSimAdmin } from './admin.js';
import type { SeedUser } from './adminTypes.js';
import { executeBatch } from './batch.js';
import { SimClock, type TimeSource } from './clock.js';
import { DeltaEngine } from './delta.js';
import { FaultInjector, type FaultPlan } from './faults.js';
import { GraphApi, type GraphRequest, type GraphResponse } from './graphApi.js';
import { graphErrorBody } from './graphError.js';
import { InvitationLog } from './invitations.js';
import { Notifier } from './notifier.js';
import { DEFAULT_MAIL_BEHAVIOUR, DEFAULT_NOTIFICATION_POLICY, DEFAULT_RECURRENCE_BEHAVIOUR, mergeLimits, type MailBehaviour, type NotificationPolicy, type PartialLimits, type RecurrenceBehaviour } from './options.js';
import { Prng } from './prng.js';
import { ContactService } from './resources/contacts.js';
import { EventService } from './resources/events.js';
import { MessageService } from './resources/messages.js';
import { TodoService } from './resources/todo.js';
import { SubscriptionManager, type AppIdentity } from './subscriptions.js';
import { Throttle } from './throttle.js';
import { World } from './world.js';

export const GRAPH_AUDIENCE = 'https://graph.microsoft.com';

/** Options of startGraphSimulator. */
export interface GraphSimulatorOptions {
  /** 0 (default) = an ephemeral port. */
  port?: number;
  /** Seeds ids, tokens and (unless the plan has its own) the fault plan. Default 1. */
  seed?: number;
  /** An identity provider to trust; one is started (and closed with the simulator) when absent. */
  identity?: IdentityProvider;
  limits?: PartialLimits;
  notifications?: Partial<NotificationPolicy>;
  faults?: FaultPlan;
  /** Time source; the admin API adds an offset to it. Default: the system clock. */
  clock?: TimeSource;
  /** Check application permissions (roles) per route, as Graph does. Default true. */
  enforcePermissions?: boolean;
  /** Users to seed at start. */
  users?: SeedUser[];
  /** Recurring-event behaviours the documentation leaves open (options.ts RecurrenceBehaviour). */
  recurrence?: Partial<RecurrenceBehaviour>;
  /** Exchange's sending limits and the sent-mail behaviours the documentation leaves open (options.ts MailBehaviour). */
  mail?: Partial<MailBehaviour>;
}

/** A running simulator. */
export interface GraphSimulator {
  /** https://127.0.0.1:PORT; Graph routes are under `${baseUrl}/v1.0/`. */
  baseUrl: string;
  port: number;
  identity: IdentityProvider;
  tenantId: string;
  admin: GraphSimAdmin;
  /** 'handled' (HandledRequest) for every Graph request answered over HTTP (not the admin API), as its status is written. */
  requests: EventEmitter;
  /** Runs one Graph request in process (no TLS), e.g. for benchmarks of the core. */
  execute(req: GraphRequest): Promise<GraphResponse>;
  close(): Promise<void>;
}

/** Starts the Microsoft Graph simulator. */
export async function startGraphSimulator(options: GraphSimulatorOptions = {}): Promise<GraphSimulator> {
  const seed = options.seed ?? 1;
  const ownsIdentity = options.identity === undefined;
  const identity = options.identity ?? (await startIdentityProvider());
  const clock = new SimClock(options.clock);
  const root = new Prng(seed, 'graph');
  let limits = mergeLimits(options.limits);
  const policy: NotificationPolicy = { ...DEFAULT_NOTIFICATION_POLICY, ...options.notifications };
  const enforcePermissions = options.enforcePermissions ?? true;

  const world = new World(root.fork('ids'), clock, identity.tenantId);
  const faults = new FaultInjector(seed);
  if (options.faults) faults.setPlan(options.faults);
  const invitations = new InvitationLog();
  const giveUp: { target?: SubscriptionManager } = {};
  const notifier = new Notifier(policy, faults, (_url, items) => giveUp.target?.onGiveUp(items));
  const subscriptions = new SubscriptionManager(world, clock, root.fork('subscriptions'), limits, policy, notifier, faults, enforcePermissions);
  giveUp.target = subscriptions;
  const delta = new DeltaEngine(world, limits.maxDeltaStates);
  const throttle = new Throttle(limits, clock);
  const recurrence: RecurrenceBehaviour = { ...DEFAULT_RECURRENCE_BEHAVIOUR, ...options.recurrence };
  const events = new EventService(world, invitations, () => recurrence);
  const contacts = new ContactService(world);
  const todo = new TodoService(world);
  const mail: MailBehaviour = { ...DEFAULT_MAIL_BEHAVIOUR, ...options.mail };
  let baseUrl = 'https://127.0.0.1';
  const messages = new MessageService(world, () => mail, () => baseUrl);
  const api = new GraphApi({ world, events, contacts, todo, messages, subscriptions, delta, throttle, faults, clock, limits: () => limits, baseUrl: () => baseUrl, enforcePermissions });
  const admin = new GraphSimAdmin({
    world,
    events,
    contacts,
    todo,
    messages,
    subscriptions,
    notifier,
    invitations,
    delta,
    throttle,
    faults,
    api,
    clock,
    setLimits: (partial) => {
      limits = mergeLimits({ ...limits, ...partial, maxSubscriptionMinutes: { ...limits.maxSubscriptionMinutes, ...partial.maxSubscriptionMinutes } });
      throttle.setLimits(limits);
      delta.setMaxStates(limits.maxDeltaStates);
      subscriptions.configure(limits, policy);
    },
  });

  const requestIds = root.fork('request-ids');
  const tokenCache = new Map<string, TokenClaims>();
  const authenticate = (token: string | undefined): { ok: true; app: AppIdentity } | { ok: false; message: string } => {
    if (token) {
      const cached = tokenCache.get(token);
      if (cached && cached.exp * 1000 > Date.now()) return { ok: true, app: toApp(cached) };
    }
    const v = identity.verify(token, GRAPH_AUDIENCE);
    if (!v.ok) {
      const message =
        v.reason === 'no bearer token'
          ? 'Access token is empty.'
          : v.reason === 'token expired'
            ? 'Lifetime validation failed, the token is expired.'
            : v.reason.startsWith('audience')
              ? `Access token validation failure. Invalid audience. (${v.reason})`
              : `Access token validation failure. (${v.reason})`;
      return { ok: false, message };
    }
    if (tokenCache.size > 1000) tokenCache.clear();
    tokenCache.set(token as string, v.claims);
    return { ok: true, app: toApp(v.claims) };
  };

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', baseUrl);
    if (url.pathname.startsWith('/_sim/') || url.pathname === '/_sim') {
      await admin.handleHttp(req, res, url);
      return;
    }
    // Upload sessions' pre-authenticated URLs (attachments.ts), outside /v1.0 as Outlook's are.
    if (/^\/api\/v2\.0\//i.test(url.pathname)) {
      await messages.uploads.handleHttp(req, res, url);
      return;
    }
    const requestId = requestIds.guid();
    const clientRequestIdHeader = req.headers['client-request-id'];
    const clientRequestId = typeof clientRequestIdHeader === 'string' ? clientRequestIdHeader : requestId;
    const respond = (r: GraphResponse) => writeGraphResponse(res, r, requestId, clientRequestId);
    const fail = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      respond({ status, headers, body: graphErrorBody(code, message, requestId, clientRequestId, clock.now()) });
    if (!url.pathname.startsWith('/v1.0/')) {
      fail(400, 'BadRequest', `Invalid version: '${url.pathname.split('/')[1] ?? ''}'. The simulator serves /v1.0.`);
      return;
    }
    const auth = authenticate(bearerToken(req));
    if (!auth.ok) {
      fail(401, 'InvalidAuthenticationToken', auth.message, { 'WWW-Authenticate': 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"' });
      return;
    }
    let body: unknown;
    try {
      const text = await readBody(req);
      if (text.trim()) body = JSON.parse(text) as unknown;
    } catch (err) {
      if (err instanceof BodyTooLargeError) fail(413, 'RequestEntityTooLarge', err.message);
      else fail(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.');
      return;
    }
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const graphReq: GraphRequest = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: url.pathname.slice('/v1.0'.length),
      query: url.searchParams,
      headers,
      body,
      app: auth.app,
      requestId,
      clientRequestId,
    };
    if (/^\/\$batch\/?$/i.test(graphReq.path) && graphReq.method === 'POST') {
      try {
        respond(await executeBatch(api, graphReq, limits.maxBatchRequests, limits.batchConcurrency, () => requestIds.guid()));
      } catch (err) {
        respond(api.errorResponse(graphReq, err));
      }
      return;
    }
    respond(await api.execute(graphReq));
  };

  const requests = new EventEmitter();
  requests.setMaxListeners(0);
  const server = await startHttpsServer(options.port ?? 0, observeRequests(handler, requests, (path) => path.startsWith('/_sim')));
  baseUrl = server.origin;
  if (options.users) await admin.seedUsers(options.users);

  return {
    baseUrl,
    port: server.port,
    identity,
    tenantId: identity.tenantId,
    admin,
    requests,
    execute: (r) => api.execute(r),
    close: async () => {
      notifier.close();
      messages.close();
      api.wakeSleepers();
      await server.close();
      if (ownsIdentity) await identity.close();
    },
  };
}

function toApp(claims: TokenClaims): AppIdentity {
  return { appId: claims.appid, servicePrincipalId: claims.oid, roles: new Set(claims.roles) };
}

const GRAPH_JSON = 'application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8';

function writeGraphResponse(res: ServerResponse, r: GraphResponse, requestId: string, clientRequestId: string): void {
  const headers: Record<string, string> = { 'request-id': requestId, 'client-request-id': clientRequestId, ...r.headers };
  if (Buffer.isBuffer(r.body)) {
    res.writeHead(r.status, { ...headers, 'Content-Length': String(r.body.length) });
    res.end(r.body);
    return;
  }
  if (r.body === undefined) {
    res.writeHead(r.status, { ...headers, 'Content-Length': '0' });
    res.end();
    return;
  }
  const text = JSON.stringify(r.body);
  res.writeHead(r.status, { ...headers, 'Content-Type': GRAPH_JSON, 'OData-Version': '4.0', 'Content-Length': Buffer.byteLength(text).toString() });
  res.end(text);
}

export { sendJson };
