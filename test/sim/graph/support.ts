// Shared test plumbing: a simulator with a registered app, the real MSAL + Graph SDK clients against it, and a
// plain-HTTP webhook endpoint (the local Functions host serves http://127.0.0.1) that answers the validation
// handshake and records notifications.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { Client } from '@microsoft/microsoft-graph-client';
import { startGraphSimulator, type GraphSimulator, type GraphSimulatorOptions } from '../../../dev/sim/graph/index.js';

// Wire JSON in tests is checked by assertions, not by types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

/** One property of each item of a JSON list. */
export function pluck(list: Loose, key: string): unknown[] {
  return (list as Record<string, unknown>[]).map((item) => item[key]);
}

export const ALL_ROLES = [
  'Calendars.ReadWrite',
  'Contacts.ReadWrite',
  'Tasks.ReadWrite.All',
  'Mail.ReadWrite',
  'Mail.Send',
  'User.Read.All',
  'MailboxSettings.Read',
];

export interface TestGraph {
  sim: GraphSimulator;
  /** The real Graph SDK client, authenticated through msal-node against the simulator's identity provider. */
  client: Client;
  /** A bearer token for raw fetch calls. */
  token(): Promise<string>;
  /** Raw Graph call (no SDK retries), for checking exact statuses and headers. */
  raw(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: Loose }>;
  clientId: string;
}

/** Starts a simulator and registers one app with the given roles. */
export async function startTestGraph(options: GraphSimulatorOptions = {}, roles: string[] = ALL_ROLES, clientId = 'sync-app'): Promise<TestGraph> {
  const sim = await startGraphSimulator({ seed: 42, ...options });
  sim.identity.registerApp({ clientId, clientSecret: 'secret', roles });
  const msal = new ConfidentialClientApplication({
    auth: { clientId, clientSecret: 'secret', authority: sim.identity.authority, knownAuthorities: [sim.identity.authorityHost] },
  });
  const token = async () => {
    const r = await msal.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    if (!r) throw new Error('no token');
    return r.accessToken;
  };
  const client = Client.initWithMiddleware({
    baseUrl: `${sim.baseUrl}/`,
    customHosts: new Set(['127.0.0.1']),
    authProvider: { getAccessToken: token },
  });
  const raw: TestGraph['raw'] = async (method, path, body, headers = {}) => {
    const res = await fetch(path.startsWith('https://') ? path : `${sim.baseUrl}/v1.0${path}`, {
      method,
      headers: { Authorization: `Bearer ${await token()}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  return { sim, client, token, raw, clientId };
}

export interface ReceivedPost {
  url: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  json: Loose;
}

/** A local webhook. `behaviour` decides each answer (default: handshake echo, 202 for notifications). */
export class Webhook {
  readonly posts: ReceivedPost[] = [];
  private server!: Server;
  private waiters: { n: number; resolve: () => void }[] = [];
  /** Status to answer for the next notification POSTs (consumed first to last), then 202. */
  answers: number[] = [];
  /** Delay (ms) before answering the next notification POSTs. */
  delays: number[] = [];
  /** How to answer the validation handshake. */
  validation: 'echo' | 'wrong' | 'json' | 'status500' | 'hang' = 'echo';
  url = '';

  async start(path = '/api/notify?code=fn-key'): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const body = Buffer.concat(chunks).toString('utf8');
        const token = url.searchParams.get('validationToken');
        if (token !== null) {
          if (this.validation === 'hang') return;
          if (this.validation === 'status500') res.writeHead(500).end();
          else if (this.validation === 'json') res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(token));
          else res.writeHead(200, { 'Content-Type': 'text/plain' }).end(this.validation === 'wrong' ? `${token}x` : token);
          this.posts.push({ url: req.url ?? '', query: url.searchParams, headers: req.headers, body, json: undefined });
          return;
        }
        const status = this.answers.shift() ?? 202;
        const delay = this.delays.shift() ?? 0;
        const record = () => {
          this.posts.push({ url: req.url ?? '', query: url.searchParams, headers: req.headers, body, json: JSON.parse(body) });
          this.check();
        };
        const answer = () => {
          if (!res.destroyed) res.writeHead(status).end();
        };
        if (delay > 0) {
          record();
          setTimeout(answer, delay);
        } else {
          answer();
          record();
        }
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
    return this;
  }

  /** Notification POSTs received (validation requests excluded). */
  get notifications(): ReceivedPost[] {
    return this.posts.filter((p) => p.json !== undefined);
  }

  /** All notification items received, flattened. */
  items(): Loose[] {
    return this.notifications.flatMap((p): Loose[] => p.json.value as Loose[]);
  }

  /** Resolves once at least n notification items have arrived. */
  waitForItems(n: number): Promise<void> {
    if (this.items().length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  private check(): void {
    const count = this.items().length;
    this.waiters = this.waiters.filter((w) => {
      if (count >= w.n) w.resolve();
      return count < w.n;
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export const USERS = [
  { userPrincipalName: 'adele@contoso.test', displayName: 'Adele Vance', timeZone: 'Europe/Berlin' },
  { userPrincipalName: 'bob@contoso.test', displayName: 'Bob Kelly', timeZone: 'Pacific Standard Time' },
  { userPrincipalName: 'carol@contoso.test', displayName: 'Carol Diaz' },
];

/** An event body starting `daysAhead` days after 2030-01-01 (a fixed future date: no clock dependence). */
export function eventBody(subject: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    subject,
    start: { dateTime: '2030-01-10T09:00:00', timeZone: 'W. Europe Standard Time' },
    end: { dateTime: '2030-01-10T10:00:00', timeZone: 'W. Europe Standard Time' },
    ...extra,
  };
}
