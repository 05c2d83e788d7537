// App-only tokens for Graph and Dataverse with @azure/msal-node (client secret or certificate).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { SyncError } from '../errors.js';

export interface TokenSettings {
  SYNC_TENANT_ID: string;
  SYNC_CLIENT_ID: string;
  SYNC_CLIENT_SECRET?: string | undefined;
  SYNC_CLIENT_CERTIFICATE?: string | undefined;
  SYNC_AUTHORITY_HOST: string;
}

export type TokenProvider = (resource: string) => Promise<string>;

const publicAuthorityHosts = new Set(['login.microsoftonline.com', 'login.microsoftonline.us', 'login.chinacloudapi.cn']);

/**
 * msal-node refreshes a cached token this long before it expires (its default token renewal offset, 300 s:
 * https://learn.microsoft.com/entra/msal/javascript/node/caching), and so does the memo below.
 */
const renewBeforeExpiryMs = 300_000;

/**
 * A token provider for `<resource>/.default` scopes. msal caches tokens until shortly before expiry, but even a
 * cache hit costs about 100 us of CPU (its cache look-up and request building; `npm run bench -- tokens`), and every
 * Graph and Dataverse call asks for a token: a memo per resource serves the same token until msal would renew it,
 * and concurrent first calls share one acquisition instead of each asking the identity provider. `now` is for tests.
 */
export function createTokenProvider(settings: TokenSettings, now: () => number = Date.now): TokenProvider {
  const authorityUrl = new URL(settings.SYNC_AUTHORITY_HOST);
  const auth: Configuration['auth'] = {
    clientId: settings.SYNC_CLIENT_ID,
    authority: `${settings.SYNC_AUTHORITY_HOST}/${settings.SYNC_TENANT_ID}`,
    // A non-public authority (sovereign cloud proxy, the local simulators) must be listed with its port, or msal
    // tries cloud instance discovery against the public cloud (docs/reference/local-tooling.md, probe 5).
    ...(publicAuthorityHosts.has(authorityUrl.hostname) ? {} : { knownAuthorities: [authorityUrl.host] }),
  };
  if (settings.SYNC_CLIENT_CERTIFICATE) {
    const pem = settings.SYNC_CLIENT_CERTIFICATE;
    const certMatch = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
    if (!certMatch) throw new SyncError('InvalidInput', 'SYNC_CLIENT_CERTIFICATE has no certificate block', { field: 'SYNC_CLIENT_CERTIFICATE' });
    const cert = new X509Certificate(certMatch[0]);
    auth.clientCertificate = {
      thumbprintSha256: cert.fingerprint256.replace(/:/g, ''),
      privateKey: createPrivateKey(pem).export({ format: 'pem', type: 'pkcs8' }).toString(),
      x5c: certMatch[0],
    };
  } else if (settings.SYNC_CLIENT_SECRET) {
    auth.clientSecret = settings.SYNC_CLIENT_SECRET;
  } else {
    throw new SyncError('Internal', 'no client credential configured');
  }
  const app = new ConfidentialClientApplication({ auth });
  const memo = new Map<string, { token: string; renewAt: number }>();
  const pending = new Map<string, Promise<string>>();
  const acquire = async (resource: string): Promise<string> => {
    try {
      const result = await app.acquireTokenByClientCredential({ scopes: [`${resource.replace(/\/+$/, '')}/.default`] });
      if (!result?.accessToken) throw new Error('empty token response');
      // Kept until msal would renew it: the earlier of its refresh time (a long-lived token's) and expiry less the offset.
      const expiresAt = result.expiresOn?.getTime();
      if (expiresAt !== undefined) {
        const renewAt = Math.min(expiresAt - renewBeforeExpiryMs, result.refreshOn?.getTime() ?? Infinity);
        if (renewAt > now()) memo.set(resource, { token: result.accessToken, renewAt });
      }
      return result.accessToken;
    } catch (error) {
      const code = (error as { errorCode?: string }).errorCode;
      // invalid_client / unauthorized_client will not pass by waiting; a network failure might.
      const permanent = code === 'invalid_client' || code === 'unauthorized_client' || code === 'invalid_scope';
      throw new SyncError(permanent ? 'Unauthorized' : 'Transient', `token for ${resource} not issued: ${code ?? (error as Error).message}`, { cause: error });
    }
  };
  return (resource) => {
    const hit = memo.get(resource);
    if (hit && hit.renewAt > now()) return Promise.resolve(hit.token);
    let inFlight = pending.get(resource);
    if (!inFlight) {
      inFlight = acquire(resource).finally(() => pending.delete(resource));
      pending.set(resource, inFlight);
    }
    return inFlight;
  };
}
