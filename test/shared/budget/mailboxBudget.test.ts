// The mailbox budget's lease I/O (shared/budget/mailboxBudget.ts) over an in-memory lease table with etags, as
// Table Storage answers (a write with a stale etag is refused): a holder lets go of the lease even after a waiting
// instance marked the row, so the waiter is not left waiting out the whole lease.
import { describe, expect, it } from 'vitest';
import type { LeaseRow } from '../../../shared/budget/lease.js';
import { MailboxBudget, type LeasePort } from '../../../shared/budget/mailboxBudget.js';

/** One table of lease rows; every write answers a new etag, a replace with another etag is refused (undefined). */
class MemoryLeases implements LeasePort {
  private readonly rows = new Map<string, { row: LeaseRow; etag: string }>();
  private version = 0;
  private readonly watchers: Array<{ test: (row: LeaseRow) => boolean; resolve: () => void }> = [];

  read(mailbox: string) {
    const found = this.rows.get(mailbox);
    return Promise.resolve(found ? { row: { ...found.row }, etag: found.etag } : undefined);
  }
  create(mailbox: string, row: LeaseRow) {
    if (this.rows.has(mailbox)) return Promise.resolve(undefined);
    return Promise.resolve(this.write(mailbox, row));
  }
  replace(mailbox: string, row: LeaseRow, etag: string) {
    if (this.rows.get(mailbox)?.etag !== etag) return Promise.resolve(undefined);
    return Promise.resolve(this.write(mailbox, row));
  }
  /** Resolves once a write leaves a row that passes `test`. */
  until(test: (row: LeaseRow) => boolean): Promise<void> {
    return new Promise((resolve) => this.watchers.push({ test, resolve }));
  }
  private write(mailbox: string, row: LeaseRow): string {
    const etag = `W/"${++this.version}"`;
    this.rows.set(mailbox, { row: { ...row }, etag });
    for (const w of [...this.watchers]) if (w.test(row)) w.resolve();
    return etag;
  }
}

describe('mailbox budget lease', () => {
  it('a holder releases the lease although a waiting instance marked the row since it took it (the etag it holds is stale)', async () => {
    const port = new MemoryLeases();
    const a = new MailboxBudget({ mode: 'shared', instanceId: 'a', port });
    const b = new MailboxBudget({ mode: 'shared', instanceId: 'b', port });
    const give = await a.acquire('mbx');
    // b asks for the lease: it marks the row (wantedBy) and waits.
    const marked = port.until((row) => row.wantedBy === 'b');
    const waiting = b.acquire('mbx');
    await marked;
    give();
    await a.close();
    const row = (await port.read('mbx'))!.row;
    expect(row.holder).toBe('');
    // The released row keeps b's wish, so b is the one served next.
    expect(row.wantedBy).toBe('b');
    const giveB = await waiting;
    expect((await port.read('mbx'))!.row.holder).toBe('b');
    giveB();
    await b.close();
  });
});
