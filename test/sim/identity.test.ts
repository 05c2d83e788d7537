import { ConfidentialClientApplication } from '@azure/msal-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIdentityProvider, type IdentityProvider } from '../../dev/sim/identity/index.js';

describe('local identity provider', () => {
  let idp: IdentityProvider;
  beforeAll(async () => {
    idp = await startIdentityProvider({ apps: [{ clientId: 'app-1', clientSecret: 's3cret', roles: ['Calendars.ReadWrite'] }] });
  });
  afterAll(async () => idp.close());

  const msal = (secret: string) =>
    new ConfidentialClientApplication({
      auth: { clientId: 'app-1', clientSecret: secret, authority: idp.authority, knownAuthorities: [idp.authorityHost] },
    });

  it('issues a token to the real msal-node client-credentials flow, with the scope resource as audience', async () => {
    const result = await msal('s3cret').acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    expect(result?.accessToken).toBeTruthy();
    const verified = idp.verify(result!.accessToken, 'https://graph.microsoft.com');
    expect(verified.ok).toBe(true);
    expect(idp.verify(result!.accessToken, 'https://org.crm.dynamics.com')).toMatchObject({ ok: false });
  });

  it('refuses a wrong client secret as Entra does (invalid_client)', async () => {
    await expect(msal('wrong').acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] })).rejects.toMatchObject({
      errorCode: 'invalid_client',
    });
  });

  it('rejects tampered and expired tokens', () => {
    const token = idp.issueToken('app-1', 'https://graph.microsoft.com');
    expect(idp.verify(`${token}x`, 'https://graph.microsoft.com')).toMatchObject({ ok: false, reason: 'invalid signature' });
    idp.setClockOffset(2 * 3600 * 1000);
    expect(idp.verify(token, 'https://graph.microsoft.com')).toMatchObject({ ok: false, reason: 'token expired' });
    idp.setClockOffset(0);
  });
});
