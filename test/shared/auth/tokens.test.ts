// The token provider against the identity simulator over HTTPS, with the real msal-node behind it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIdentityProvider, type IdentityProvider } from '../../../dev/sim/identity/index.js';
import { createTokenProvider } from '../../../shared/auth/tokens.js';

const clientId = '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d';
const clientSecret = 'tokens-test-secret';
const graph = 'https://graph.microsoft.com';
let idp: IdentityProvider;
let shortLived: IdentityProvider;

const providerFor = (p: IdentityProvider, now?: () => number) =>
  createTokenProvider({ SYNC_TENANT_ID: p.tenantId, SYNC_CLIENT_ID: clientId, SYNC_CLIENT_SECRET: clientSecret, SYNC_AUTHORITY_HOST: p.origin }, now);

beforeAll(async () => {
  idp = await startIdentityProvider({ apps: [{ clientId, clientSecret, roles: [] }] });
  // Tokens that live less than msal's renewal offset (300 s): msal renews them at every call.
  shortLived = await startIdentityProvider({ apps: [{ clientId, clientSecret, roles: [] }], tokenLifetimeSeconds: 120 });
});

afterAll(async () => {
  await idp.close();
  await shortLived.close();
});

describe('token provider', () => {
  it('serves one token per resource to concurrent first calls from one token request', async () => {
    const tokens = providerFor(idp);
    const before = idp.tokenRequests();
    const got = await Promise.all(Array.from({ length: 8 }, () => tokens(graph)));
    expect(new Set(got).size).toBe(1);
    expect(idp.tokenRequests() - before).toBe(1);
    expect(idp.verify(got[0], graph)).toMatchObject({ ok: true });
    // Later calls are served the same token without asking again.
    expect(await tokens(graph)).toBe(got[0]);
    expect(idp.tokenRequests() - before).toBe(1);
  });

  it('keeps no token msal would renew: past its renewal time (5 minutes before expiry) the next call asks msal again', async () => {
    let clock = Date.now();
    const tokens = providerFor(shortLived, () => clock);
    const before = shortLived.tokenRequests();
    await tokens(graph);
    clock += 1_000;
    await tokens(graph);
    // 120 s tokens are due for renewal at once: each call reached msal, and msal asked the identity provider.
    expect(shortLived.tokenRequests() - before).toBe(2);
  });

  it('a token refused by the identity provider is an error, and is not kept', async () => {
    const wrong = createTokenProvider({ SYNC_TENANT_ID: idp.tenantId, SYNC_CLIENT_ID: clientId, SYNC_CLIENT_SECRET: 'not-the-secret', SYNC_AUTHORITY_HOST: idp.origin });
    await expect(wrong(graph)).rejects.toMatchObject({ code: 'Unauthorized' });
    await expect(wrong(graph)).rejects.toMatchObject({ code: 'Unauthorized' });
  });
});
