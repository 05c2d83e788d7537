// Which Graph requests take a mailbox's budget: Outlook's limits are per app and mailbox
// (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits), so every request to a mailbox's data
// does, in any id shape Graph accepts, while directory reads and subscriptions do not.
import { describe, expect, it } from 'vitest';
import { mailboxOfGraphUrl } from '../../../shared/graph/budgetHandler.js';

describe('mailboxOfGraphUrl', () => {
  it.each([
    ['https://graph.microsoft.com/v1.0/users/3BD353A6-16DA-471E-AF74-2204A6B507AD/events?$top=1', '3bd353a6-16da-471e-af74-2204a6b507ad'],
    ['https://graph.microsoft.com/v1.0/users/Alice%40contoso.example/calendarView/delta?$deltatoken=x', 'alice@contoso.example'],
    ['https://graph.microsoft.com/beta/users/abc/todo/lists/AAMk%2B%2F=/tasks', 'abc'],
    ['/users/abc/mailboxSettings', undefined],
    ['https://graph.microsoft.com/v1.0/users/abc', undefined],
    ['https://graph.microsoft.com/v1.0/subscriptions/123', undefined],
    ['https://graph.microsoft.com/v1.0/users/%E0%A4%A/events', undefined],
  ])('%s -> %s', (url, mailbox) => {
    expect(mailboxOfGraphUrl(url)).toBe(mailbox);
  });
});
