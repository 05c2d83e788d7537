// A middleware of the Graph SDK's chain: every request to a mailbox's Outlook data (/users/{id}/...) waits for a
// slot of that mailbox's budget (shared/budget/mailboxBudget.ts) and gives it back when the answer is in; a 429
// Graph sends pauses the mailbox for its Retry-After, on every instance. Directory reads (/users/{id}) and
// /subscriptions are outside the Outlook limits and pass straight through.
import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import type { MailboxBudget } from '../budget/mailboxBudget.js';
import { SyncError } from '../errors.js';
import { parseRetryAfter } from '../http/retry.js';

/** The service code of the answer this handler gives when the budget did not free up in time (not Graph's). */
export const budgetExhaustedCode = 'SyncMailboxBudgetExhausted';

/** The mailbox a Graph URL addresses (lower case, as the budget keys it), or undefined when it is not a mailbox's data. */
export function mailboxOfGraphUrl(url: string): string | undefined {
  let path: string;
  try {
    path = new URL(url, 'https://graph.invalid/').pathname;
  } catch {
    return undefined;
  }
  const match = /^\/(?:v1\.0|beta)\/users\/([^/]+)\/[^/]/i.exec(path);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!).toLowerCase();
  } catch {
    return undefined;
  }
}

export class BudgetHandler implements Middleware {
  private next: Middleware | undefined;

  constructor(private readonly budget: MailboxBudget) {}

  async execute(context: Context): Promise<void> {
    const next = this.next;
    if (!next) throw new Error('BudgetHandler must not be the last middleware of the chain');
    const request = context.request as string | { url: string };
    const mailbox = mailboxOfGraphUrl(typeof request === 'string' ? request : request.url);
    if (!mailbox) return next.execute(context);
    let release: () => void;
    try {
      release = await this.budget.acquire(mailbox);
    } catch (error) {
      // The SDK turns a thrown error into a GraphError without its details; an answer keeps the wait the worker needs.
      if (!(error instanceof SyncError && error.code === 'Throttled')) throw error;
      const seconds = Math.ceil((error.retryAfterMs ?? 1_000) / 1_000);
      context.response = new Response(JSON.stringify({ error: { code: budgetExhaustedCode, message: 'the mailbox budget of this app did not free up in time' } }), {
        status: 429,
        headers: { 'Retry-After': String(seconds), 'Content-Type': 'application/json' },
      });
      return;
    }
    try {
      await next.execute(context);
      const response = context.response;
      if (response?.status === 429) this.budget.pause(mailbox, parseRetryAfter(response.headers.get('retry-after')) ?? 1_000);
    } finally {
      release();
    }
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}
