// `explain <item>` (CLI) and GET /api/status?explain=<id>: why an item did or did not sync, read from what the sync
// recorded: the pair in each mailbox, the last decisions taken for the item with their reasons (the planner's,
// the worker's dead letters, the breaker's holds), and the last sync per direction. A lookup, not a guess: an id
// the sync never saw answers "no decision recorded". Ids, codes and reasons only: no item content.
import { SyncError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import type { Decision } from '../storage/decisionStore.js';

export interface ExplainedPair {
  mailboxId: string;
  userPrincipalName?: string | undefined;
  kind: string;
  dataverseEntity: string;
  dataverseId: string;
  exchangeId?: string | undefined;
  status: string;
  mirror: boolean;
  updatedOn?: string | undefined;
}

export interface ExplainedMailbox {
  /** undefined: a decision that concerned no mailbox (a record no enabled mailbox's scope reaches). */
  mailboxId: string | undefined;
  userPrincipalName?: string | undefined;
  lastSync: { toExchange?: string | undefined; toDataverse?: string | undefined };
  decisions: Decision[];
}

export interface Explanation {
  id: string;
  /** How the id was read: a Dataverse record id (a GUID) or an Exchange item id. */
  idKind: 'dataverse' | 'exchange';
  pairs: ExplainedPair[];
  mailboxes: ExplainedMailbox[];
  /** One line: the latest decision, or why there is none. */
  summary: string;
}

const guid = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;

/** Explains one item by its Dataverse id (GUID, braces allowed) or its Exchange id (immutable or REST id). */
export async function explainItem(rt: Runtime, rawId: string): Promise<Explanation> {
  const id = rawId.trim();
  if (id.length === 0 || id.length > 1024) throw new SyncError('InvalidInput', `explain: the id must be 1 to 1024 characters (got ${id.length})`, { field: 'explain' });
  await rt.ready();
  const idKind = guid.test(id) ? 'dataverse' : 'exchange';
  const mailboxes = await rt.mailboxes.list();
  const upn = (mailboxId: string | undefined) => mailboxes.find((m) => m.id.toLowerCase() === mailboxId?.toLowerCase())?.userPrincipalName;
  const pairs: ExplainedPair[] = [];
  const dataverseIds = new Set<string>();
  const exchangeIds = new Set<string>();
  if (idKind === 'dataverse') {
    const dataverseId = id.replace(/[{}]/g, '').toLowerCase();
    dataverseIds.add(dataverseId);
    for (const mailboxId of await rt.pairs.mailboxesOf(dataverseId)) {
      const pair = await rt.pairs.get(mailboxId, dataverseId);
      if (pair) pairs.push(describePair(pair, upn(mailboxId)));
    }
  } else {
    exchangeIds.add(id);
    for (const m of mailboxes) {
      const pair = await rt.pairs.getByExchangeId(m.id, id);
      if (pair) pairs.push(describePair(pair, m.userPrincipalName));
    }
  }
  for (const p of pairs) {
    dataverseIds.add(p.dataverseId.toLowerCase());
    if (p.exchangeId) exchangeIds.add(p.exchangeId);
  }
  // The same decision is kept under both of its ids: merge the two records of each mailbox, newest first.
  const byMailbox = new Map<string, ExplainedMailbox>();
  const lookups = [...[...dataverseIds].map((d) => ({ dataverseId: d })), ...[...exchangeIds].map((e) => ({ exchangeId: e }))];
  for (const lookup of lookups) {
    for (const rec of await rt.decisions.lookup(lookup)) {
      const key = rec.mailboxId ?? '-';
      const entry = byMailbox.get(key) ?? { mailboxId: rec.mailboxId, userPrincipalName: upn(rec.mailboxId), lastSync: {}, decisions: [] };
      for (const d of rec.decisions) if (!entry.decisions.some((e) => JSON.stringify(e) === JSON.stringify(d))) entry.decisions.push(d);
      for (const dir of ['toExchange', 'toDataverse'] as const) {
        const at = rec.lastSync[dir];
        if (at && (!entry.lastSync[dir] || at > entry.lastSync[dir])) entry.lastSync[dir] = at;
      }
      byMailbox.set(key, entry);
    }
  }
  const explained = [...byMailbox.values()];
  for (const m of explained) m.decisions.sort((a, b) => b.at.localeCompare(a.at));
  const latest = explained.flatMap((m) => m.decisions.map((d) => ({ d, m }))).sort((a, b) => b.d.at.localeCompare(a.d.at))[0];
  const summary = latest
    ? `${latest.d.decision}${latest.m.userPrincipalName ? ` in ${latest.m.userPrincipalName}` : ''}: ${latest.d.reason} (${latest.d.at})`
    : pairs.length
      ? 'paired, but no decision is recorded for it yet'
      : `no decision recorded for this ${idKind === 'dataverse' ? 'Dataverse id' : 'Exchange id'}: the sync has not seen a change of it (not in any synced mailbox, or changed before decisions were recorded)`;
  return { id, idKind, pairs, mailboxes: explained, summary };
}

function describePair(pair: { mailboxId: string; kind: string; dataverseEntity: string; dataverseId: string; exchangeId?: string | undefined; status: string; mirror?: boolean | undefined; updatedOn?: string | undefined }, userPrincipalName: string | undefined): ExplainedPair {
  return {
    mailboxId: pair.mailboxId,
    userPrincipalName,
    kind: pair.kind,
    dataverseEntity: pair.dataverseEntity,
    dataverseId: pair.dataverseId,
    exchangeId: pair.exchangeId,
    status: pair.status,
    mirror: pair.mirror === true,
    updatedOn: pair.updatedOn,
  };
}
