// A local Microsoft Entra ID stand-in for the client-credentials flow, shared by the Graph and Dataverse simulators.
// It serves what @azure/msal-node asks for (docs/reference/local-tooling.md, probe 5):
//   GET  /{tenant}/v2.0/.well-known/openid-configuration
//   POST /{tenant}/oauth2/v2.0/token   (grant_type=client_credentials, client_secret or client_assertion)
// and issues HS256-signed JWTs whose `aud` is the resource of the requested `<resource>/.default` scope.
// Tokens are checked by the simulators with `verify()`; a bad client secret is AADSTS7000215 as in Entra.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson, startHttpsServer, type StartedHttpsServer } from '../common/https.js';

export interface RegisteredApp {
  clientId: string;
  /** Accepted client secret. A client assertion (certificate credential) is accepted when `acceptAssertions` is set. */
  clientSecret?: string;
  acceptAssertions?: boolean;
  /** Application permissions granted (the `roles` claim). */
  roles?: string[];
}

export interface TokenClaims {
  aud: string;
  iss: string;
  tid: string;
  appid: string;
  oid: string;
  roles: string[];
  iat: number;
  nbf: number;
  exp: number;
}

export interface IdentityProvider {
  /** https://127.0.0.1:PORT */
  origin: string;
  /** https://127.0.0.1:PORT/{tenantId}, the authority to give msal-node (with knownAuthorities ['127.0.0.1:PORT']). */
  authority: string;
  /** host:port, the value msal-node needs in knownAuthorities */
  authorityHost: string;
  tenantId: string;
  registerApp(app: RegisteredApp): void;
  /** Issues a token directly (for tests that do not want the OAuth round trip). */
  issueToken(clientId: string, resource: string): string;
  /** Checks signature, expiry and audience; returns the claims or a reason. */
  verify(token: string | undefined, audience: string): { ok: true; claims: TokenClaims } | { ok: false; reason: string };
  /** Token requests answered, for inspection. */
  tokenRequests(): number;
  /** Shifts the clock the provider uses (simulated days in tests). */
  setClockOffset(ms: number): void;
  close(): Promise<void>;
}

export interface IdentityProviderOptions {
  port?: number;
  tenantId?: string;
  apps?: RegisteredApp[];
  tokenLifetimeSeconds?: number;
}

const b64url = (buf: Buffer | string) => Buffer.from(buf).toString('base64url');

export async function startIdentityProvider(options: IdentityProviderOptions = {}): Promise<IdentityProvider> {
  const tenantId = options.tenantId ?? '00000000-0000-4000-8000-00000000d365';
  const key = randomBytes(32);
  const apps = new Map<string, RegisteredApp>();
  for (const app of options.apps ?? []) apps.set(app.clientId, app);
  const lifetime = options.tokenLifetimeSeconds ?? 3599;
  let clockOffset = 0;
  let requests = 0;
  const now = () => Date.now() + clockOffset;
  // Filled in once the server listens; the handlers only run after that.
  let origin = 'https://127.0.0.1';

  const sign = (claims: TokenClaims): string => {
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64url(JSON.stringify(claims));
    const sig = createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url');
    return `${header}.${payload}.${sig}`;
  };

  const issueToken = (clientId: string, resource: string): string => {
    const iat = Math.floor(now() / 1000);
    const app = apps.get(clientId);
    return sign({
      aud: resource,
      iss: `${origin}/${tenantId}/v2.0`,
      tid: tenantId,
      appid: clientId,
      oid: servicePrincipalId(clientId),
      roles: app?.roles ?? [],
      iat,
      nbf: iat - 60,
      exp: iat + lifetime,
    });
  };

  const verify: IdentityProvider['verify'] = (token, audience) => {
    if (!token) return { ok: false, reason: 'no bearer token' };
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed token' };
    const [h, p, s] = parts as [string, string, string];
    const expected = createHmac('sha256', key).update(`${h}.${p}`).digest();
    const given = Buffer.from(s, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid signature' };
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return { ok: false, reason: 'malformed token' };
    }
    if (claims.exp * 1000 <= now()) return { ok: false, reason: 'token expired' };
    if (normaliseAudience(claims.aud) !== normaliseAudience(audience)) return { ok: false, reason: `audience ${claims.aud} is not ${audience}` };
    return { ok: true, claims };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const segments = url.pathname.split('/').filter(Boolean);
    const tenant = segments[0];
    if (tenant !== tenantId && tenant !== 'organizations' && tenant !== 'common') {
      sendJson(res, 400, { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${tenant ?? ''}' not found.` });
      return;
    }
    const rest = segments.slice(1).join('/');
    const base = `${origin}/${tenantId}`;
    if (req.method === 'GET' && rest === 'v2.0/.well-known/openid-configuration') {
      sendJson(res, 200, {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        issuer: `${base}/v2.0`,
        jwks_uri: `${base}/discovery/v2.0/keys`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        tenant_region_scope: 'WW',
      });
      return;
    }
    if (req.method === 'GET' && rest === 'discovery/v2.0/keys') {
      sendJson(res, 200, { keys: [] });
      return;
    }
    if (req.method === 'POST' && rest === 'oauth2/v2.0/token') {
      requests += 1;
      const form = new URLSearchParams(await readBody(req, 64 * 1024));
      const clientId = form.get('client_id') ?? '';
      const app = apps.get(clientId);
      if (form.get('grant_type') !== 'client_credentials') {
        sendJson(res, 400, { error: 'unsupported_grant_type', error_description: 'AADSTS70003: only client_credentials is simulated.' });
        return;
      }
      if (!app) {
        sendJson(res, 400, { error: 'unauthorized_client', error_description: `AADSTS700016: Application with identifier '${clientId}' was not found in the directory.` });
        return;
      }
      const secret = form.get('client_secret');
      const assertion = form.get('client_assertion');
      const secretOk = secret !== null && app.clientSecret !== undefined && safeEqual(secret, app.clientSecret);
      const assertionOk = assertion !== null && app.acceptAssertions === true;
      if (!secretOk && !assertionOk) {
        sendJson(res, 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
        return;
      }
      const scope = form.get('scope') ?? '';
      const resource = scope.split(' ').find((s) => s.endsWith('/.default'));
      if (!resource) {
        sendJson(res, 400, { error: 'invalid_scope', error_description: 'AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.' });
        return;
      }
      sendJson(res, 200, {
        token_type: 'Bearer',
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token: issueToken(clientId, resource.slice(0, -'/.default'.length)),
      });
      return;
    }
    sendJson(res, 404, { error: 'not_found', error_description: `no route ${req.method ?? ''} ${url.pathname}` });
  };

  const http: StartedHttpsServer = await startHttpsServer(options.port ?? 0, handle);
  origin = http.origin;
  return {
    origin: http.origin,
    authority: `${http.origin}/${tenantId}`,
    authorityHost: `127.0.0.1:${http.port}`,
    tenantId,
    registerApp: (app) => void apps.set(app.clientId, app),
    issueToken,
    verify,
    tokenRequests: () => requests,
    setClockOffset: (ms) => void (clockOffset = ms),
    close: () => http.close(),
  };
}

/** The object id the directory gives an app's service principal; stable per client id. */
export function servicePrincipalId(clientId: string): string {
  const h = createHmac('sha256', 'sp').update(clientId).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function normaliseAudience(aud: string): string {
  return aud.replace(/\/+$/, '').toLowerCase();
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
