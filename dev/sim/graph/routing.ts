// What a route is, as the families under resources/ (and subscriptions.routes.ts) register them and graphApi.ts
// matches and runs them. Each family adds its routes through RouteRegistrar; graphApi.ts alone keeps the route
// table, the permission check per family and access, mailbox resolution, throttling and faults.
import type { Preferences } from './requestOptions.js';
import type { Mailbox } from './store.js';
import type { AppIdentity } from './subscriptions.js';
import type { Actor } from './world.js';

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

/** The permission area of a route (see ROLES in graphApi.ts). */
export type Family = 'calendar' | 'contacts' | 'tasks' | 'mail' | 'directory' | 'mailboxSettings' | 'subscriptions';
export type Access = 'read' | 'write' | 'send';

export interface RouteContext {
  req: GraphRequest;
  params: Record<string, string>;
  /** The mailbox named by `{u}`; only routes whose path has `{u}` may read it. */
  mb: Mailbox;
  /** The user segment as the caller wrote it (id or UPN), for links. */
  userSeg: string;
  prefs: Preferences;
  actor: Actor;
}

export type RouteHandler = (ctx: RouteContext) => GraphResponse | Promise<GraphResponse>;

export interface RouteRegistrar {
  /**
   * Adds a route. `path` is relative to /v1.0 without a leading '/', `{name}` segments are parameters (`{u}` is
   * the user, resolved to `ctx.mb`). Routes are matched in the order they are added, so within a family a literal
   * segment goes before a parameter in the same place (`lists/delta` before `lists/{l}`). `mailbox: false` keeps
   * the request out of the per-mailbox throttle and request hold (directory and subscription requests).
   */
  add(method: string, path: string, family: Family, access: Access, handler: RouteHandler, mailbox?: boolean): void;
}
