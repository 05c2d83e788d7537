// Small HTTPS plumbing shared by the simulators: the local certificate, body reading with a size cap, JSON replies.
// The simulators never import product code (and product code never imports them).
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ensureDevCertificate } from '../../tls/devCertificate.mjs';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** TLS material for the simulators: the files named by DEV_TLS_CERT/DEV_TLS_KEY (set by dev/with-dev-ca.mjs), else the generated dev certificate. */
export async function loadTlsMaterial(): Promise<{ cert: string; key: string }> {
  const certPath = process.env.DEV_TLS_CERT;
  const keyPath = process.env.DEV_TLS_KEY;
  if (certPath && keyPath) return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  const { cert, key } = await ensureDevCertificate();
  return { cert, key };
}

export interface StartedHttpsServer {
  server: Server;
  port: number;
  /** e.g. https://127.0.0.1:12345 (no trailing slash) */
  origin: string;
  close(): Promise<void>;
}

/** Starts an HTTPS server on 127.0.0.1 (port 0 = ephemeral). Errors thrown by the handler become 500 in Graph-like JSON. */
export async function startHttpsServer(port: number, handler: RequestHandler): Promise<StartedHttpsServer> {
  const tls = await loadTlsMaterial();
  const server = createServer({ ...tls, keepAlive: true }, (req, res) => {
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      if (!res.headersSent) {
        sendJson(res, 500, { error: { code: 'InternalServerError', message: err instanceof Error ? err.message : String(err) } });
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolveListen());
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    server,
    port: actualPort,
    origin: `https://127.0.0.1:${actualPort}`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}

/** What a simulator answered one request with, emitted as the answer's status line is written. */
export interface HandledRequest {
  method: string;
  /** The path without the query (e.g. /v1.0/users/{id}/events or /api/data/v9.2/appointments(...)). */
  path: string;
  status: number;
  /** A method that can change state (anything but GET, HEAD and OPTIONS) answered with 2xx. */
  write: boolean;
}

/**
 * Emits 'handled' (HandledRequest) for every request the handler answers, at the moment its status is written: the
 * request has taken effect but the client has not read the answer yet. A listener that kills the client there
 * reproduces a crash between a service's write and the client's own bookkeeping (a test awaits "N writes happened").
 */
export function observeRequests(handler: RequestHandler, events: EventEmitter, skip: (path: string) => boolean = () => false): RequestHandler {
  return (req, res) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!skip(path)) {
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
      let emitted = false;
      res.writeHead = ((...args: unknown[]) => {
        const out = writeHead(...args);
        if (!emitted) {
          emitted = true;
          const status = res.statusCode;
          events.emit('handled', { method, path, status, write: !['GET', 'HEAD', 'OPTIONS'].includes(method) && status >= 200 && status < 300 } satisfies HandledRequest);
        }
        return out;
      });
    }
    return handler(req, res);
  };
}

export class BodyTooLargeError extends Error {}

/** Reads the whole request body as a string, failing past `limitBytes`. */
export async function readBody(req: IncomingMessage, limitBytes = 4 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limitBytes) throw new BodyTooLargeError(`request body exceeds ${limitBytes} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(text ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
    'Content-Length': Buffer.byteLength(text).toString(),
    ...headers,
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text).toString(), ...headers });
  res.end(text);
}

/** The bearer token of a request, or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header);
  return match?.[1];
}
