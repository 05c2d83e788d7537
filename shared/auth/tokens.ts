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

/** A token provider for `<resource>/.default` scopes; msal caches tokens until shortly before expiry. */
export function createTokenProvider(settings: TokenSettings): TokenProvider {
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
  return async (resource) => {
    try {
      const result = await app.acquireTokenByClientCredential({ scopes: [`${resource.replace(/\/+$/, '')}/.default`] });
      if (!result?.accessToken) throw new Error('empty token response');
      return result.accessToken;
    } catch (error) {
      const code = (error as { errorCode?: string }).errorCode;
      // invalid_client / unauthorized_client will not pass by waiting; a network failure might.
      const permanent = code === 'invalid_client' || code === 'unauthorized_client' || code === 'invalid_scope';
      throw new SyncError(permanent ? 'Unauthorized' : 'Transient', `token for ${resource} not issued: ${code ?? (error as Error).message}`, { cause: error });
    }
  };
}
