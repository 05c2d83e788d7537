// Token acquisition per call (`npm run bench -- tokens`): every Graph and Dataverse call asks the token provider for
// a token. Measured in the same run against the identity simulator: msal-node's own cache hit
// (acquireTokenByClientCredential on a warm cache, what every call cost before the memo) and the provider's memo
// (shared/auth/tokens.ts). Prints wall and CPU time per call and the token requests the identity provider answered.
import { ConfidentialClientApplication } from '@azure/msal-node';
import { startIdentityProvider } from '../sim/identity/index.js';
import { createTokenProvider } from '../../shared/auth/tokens.js';

const clientId = '0f0e0d0c-0b0a-4908-8706-050403020100';
const clientSecret = 'bench-secret';
const resources = ['https://graph.microsoft.com', 'https://contoso.crm.dynamics.com'];
const calls = 20_000;
const idp = await startIdentityProvider({ apps: [{ clientId, clientSecret, roles: [] }] });
try {
  const msal = new ConfidentialClientApplication({ auth: { clientId, clientSecret, authority: idp.authority, knownAuthorities: [idp.authorityHost] } });
  const viaMsal = async (resource: string) => (await msal.acquireTokenByClientCredential({ scopes: [`${resource}/.default`] }))!.accessToken;
  const provider = createTokenProvider({ SYNC_TENANT_ID: idp.tenantId, SYNC_CLIENT_ID: clientId, SYNC_CLIENT_SECRET: clientSecret, SYNC_AUTHORITY_HOST: idp.origin });
  for (const [label, get] of [['msal cache hit (reference)', viaMsal], ['token provider memo', provider]] as const) {
    for (const r of resources) await get(r); // warm: the first call of each resource goes to the identity provider
    const before = idp.tokenRequests();
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < calls; i += 1) await get(resources[i % resources.length]!);
    const used = process.cpuUsage(cpu);
    const wallUs = ((performance.now() - started) * 1000) / calls;
    console.log(`${label.padEnd(28)} ${wallUs.toFixed(2).padStart(8)} us/call wall, ${((used.user + used.system) / calls).toFixed(2).padStart(8)} us/call CPU, ${idp.tokenRequests() - before} token requests for ${calls} calls`);
  }
} finally {
  await idp.close();
}
