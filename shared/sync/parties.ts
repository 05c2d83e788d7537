// Resolves activity parties that arrive from Exchange as bare e-mail addresses to Dataverse records, in the order
// Dynamics uses for tracked items: system user, then contact (docs/reference/platform-facts.md section 8); an address that matches nothing
// stays an unresolved party (addressused only). Enabled mailboxes resolve without a call.
import { odataString } from '../odata.js';
import type { Runtime } from '../runtime.js';
import type { Mailbox } from '../storage/mailboxStore.js';

type Party = { participationtypemask: number; addressused?: string; [key: string]: unknown };


/** Returns the body with every `<activity>_activity_parties` entry bound where the address is known. */
export async function resolveParties(rt: Runtime, _mailbox: Mailbox, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { ...body };
  const cache = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(body)) {
    if (!key.endsWith('_activity_parties') || !Array.isArray(value)) continue;
    const parties: Party[] = [];
    for (const party of value as Party[]) {
      const bound = Object.keys(party).some((k) => k.startsWith('partyid_'));
      if (bound || !party.addressused) {
        parties.push(party);
        continue;
      }
      const address = party.addressused.toLowerCase();
      if (!cache.has(address)) cache.set(address, await lookup(rt, address));
      const bind = cache.get(address);
      parties.push(bind ? { participationtypemask: party.participationtypemask, [bind.split('=')[0]!]: bind.split('=')[1]!, addressused: party.addressused } : party);
    }
    out[key] = parties;
  }
  return out;
}

/** `partyid_systemuser@odata.bind=/systemusers(id)` style result, or undefined. */
async function lookup(rt: Runtime, address: string): Promise<string | undefined> {
  const known = await rt.mailboxes.findKnown(address);
  if (known) return `partyid_systemuser@odata.bind=/systemusers(${known.systemUserId})`;
  const users = await rt.dataverse.query('systemuser', { filter: `internalemailaddress eq ${odataString(address)}`, select: ['systemuserid'], top: 1 });
  const userId = users[0]?.systemuserid;
  if (typeof userId === 'string') return `partyid_systemuser@odata.bind=/systemusers(${userId})`;
  const contacts = await rt.dataverse.query('contact', { filter: `emailaddress1 eq ${odataString(address)}`, select: ['contactid'], top: 1 });
  const contactId = contacts[0]?.contactid;
  if (typeof contactId === 'string') return `partyid_contact@odata.bind=/contacts(${contactId})`;
  return undefined;
}
