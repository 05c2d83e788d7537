// Test support: a real identity provider and simulator, tokens from the real @azure/msal-node client, plain fetch,
// and a real local HTTP endpoint that records webhook requests.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { startIdentityProvider, type IdentityProvider } from '../../../dev/sim/identity/index.js';
import { startDataverseSimulator, type DataverseSimulator, type DataverseSimulatorOptions } from '../../../dev/sim/dataverse/index.js';

// Wire JSON in tests is checked by assertions, not by types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

export const APP_ID = '5a1e0c1d-0000-4000-8000-00000000a001';
export const APP_SECRET = 'dv-sim-secret';

export interface Harness {
  idp: IdentityProvider;
  sim: DataverseSimulator;
  token: string;
  /** fetch against the Web API with the app's bearer token; `path` is relative to /api/data/v9.2/. */
  api(path: string, init?: { method?: string; headers?: Record<string, string>; body?: unknown }): Promise<{ status: number; headers: Headers; json: Loose; text: string }>;
  /** Resets the simulator and seeds the application user again. */
  reset(): void;
  close(): Promise<void>;
}

/** Starts an identity provider and a simulator, and gets a token with the real MSAL client-credentials flow. */
export async function startHarness(options: DataverseSimulatorOptions = {}): Promise<Harness> {
  const idp = await startIdentityProvider({ apps: [{ clientId: APP_ID, clientSecret: APP_SECRET }] });
  const sim = await startDataverseSimulator({ seed: 7, ...options, identity: idp });
  sim.admin.seedApplicationUser({ clientId: APP_ID, fullname: 'Sync App' });
  const msal = new ConfidentialClientApplication({ auth: { clientId: APP_ID, clientSecret: APP_SECRET, authority: idp.authority, knownAuthorities: [idp.authorityHost] } });
  const result = await msal.acquireTokenByClientCredential({ scopes: [`${sim.url}/.default`] });
  const token = result!.accessToken;
  const api: Harness['api'] = async (path, init = {}) => {
    const res = await fetch(`${sim.apiUrl}/${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        'OData-MaxVersion': '4.0',
        'OData-Version': '4.0',
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    let json: Loose;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  };
  return {
    idp,
    sim,
    token,
    api,
    reset: () => {
      sim.admin.reset();
      sim.admin.seedApplicationUser({ clientId: APP_ID, fullname: 'Sync App' });
    },
    close: async () => {
      await sim.close();
      await idp.close();
    },
  };
}

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real local HTTP endpoint (plain http, like `npm start`'s Functions host) that records what it receives. */
export class WebhookReceiver {
  readonly received: Received[] = [];
  /** Status codes to answer, in order; 200 once the list is used up. */
  statuses: number[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(this.statuses.shift() ?? 200);
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  clear(): void {
    this.received.length = 0;
    this.statuses = [];
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

/** A documented sample from the shared reference folder. */
export function sample(name: string): string {
  return readFileSync(new URL(`../../fixtures/microsoft/${name}`, import.meta.url), 'utf8');
}

/** The JSON of a documented sample, with the doc's trailing-space quirks tolerated. */
export function sampleJson(name: string): Loose {
  return JSON.parse(sample(name));
}

/** Sorted keys of an object. */
export function keysOf(o: object): string[] {
  return Object.keys(o).sort();
}

/** The `value` rows of a collection response. */
export function rowsOf(json: Loose): Array<Record<string, unknown>> {
  return (json as { value: Array<Record<string, unknown>> }).value;
}

/** One column of every row of a collection response. */
export function pluck(json: Loose, key: string): unknown[] {
  return rowsOf(json).map((r) => r[key]);
}
