// GET status: per mailbox its state, subscriptions and their expiry, and the recorded dead letters. No secrets
// (clientState is never included) and no item contents.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getRuntime, type Runtime } from '../runtime.js';
import { deadLetterScope, type DeadLetterRecord } from '../sync/worker.js';

export interface StatusReport {
  generatedAt: string;
  mailboxes: {
    id: string;
    userPrincipalName: string;
    state: string;
    stateReason?: string | undefined;
    entities: string[];
    subscriptions: { id: string; resourceKind: string; expirationDateTime: string }[];
  }[];
  deadLetters: { count: number; recent: DeadLetterRecord[] };
  calls: Runtime['calls'];
}

export async function buildStatus(rt: Runtime): Promise<StatusReport> {
  await rt.ready();
  const subscriptions = await rt.subscriptions.list();
  const dead = (await rt.cursors.list<DeadLetterRecord>(deadLetterScope)).map((d) => d.value);
  dead.sort((a, b) => b.at.localeCompare(a.at));
  return {
    generatedAt: rt.now().toISOString(),
    mailboxes: (await rt.mailboxes.list({ fresh: true })).map((m) => ({
      id: m.id,
      userPrincipalName: m.userPrincipalName,
      state: m.state,
      stateReason: m.stateReason,
      entities: m.entities,
      subscriptions: subscriptions.filter((s) => s.mailboxId === m.id).map((s) => ({ id: s.id, resourceKind: s.resourceKind, expirationDateTime: s.expirationDateTime })),
    })),
    deadLetters: { count: dead.length, recent: dead.slice(0, 20) },
    calls: { ...rt.calls },
  };
}

export async function status(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: await buildStatus(getRuntime()) };
}
