// The email mapping: keys, direction, parties, the activity body, the draft, and how a refused send ends.
import type { Message } from '@microsoft/microsoft-graph-types';
import { describe, expect, it } from 'vitest';
import { activityIdProperty, classifySendFailure, draftFromEmail, emailFromMessage, messageDirection, messageParties, normalizeMessageId, repliedMessageIds } from '../../shared/mapping/index.js';

const ctx = { now: new Date('2026-03-01T00:00:00Z'), mailbox: { address: 'alice@contoso.example', systemUserId: 'su-a' }, timeZone: 'UTC' };
const owner = { address: 'alice@contoso.example', userPrincipalName: 'alice@contoso.example' };

describe('email mapping', () => {
  it.each([
    ['<ABC@Example.COM>', '<abc@example.com>'],
    ['  <x@y>  ', '<x@y>'],
    ['x@y', '<x@y>'],
    ['', undefined],
    [null, undefined],
  ])('normalizes the Message-ID %j', (input, expected) => {
    expect(normalizeMessageId(input)).toBe(expected);
  });

  it.each<[string, Message, string | undefined, string]>([
    ['from the owner: outgoing', { from: { emailAddress: { address: 'Alice@Contoso.example' } } }, undefined, 'outgoing'],
    ['from someone else: incoming', { from: { emailAddress: { address: 'x@fabrikam.example' } } }, undefined, 'incoming'],
    ['in Sent Items (sent on behalf): outgoing', { from: { emailAddress: { address: 'boss@contoso.example' } }, parentFolderId: 'sent' }, 'sent', 'outgoing'],
  ])('direction: %s', (_n, m, sentItems, expected) => {
    expect(messageDirection(m, owner, sentItems)).toBe(expected);
  });

  it('reads In-Reply-To before References, newest reference first', () => {
    const m: Message = { internetMessageHeaders: [{ name: 'References', value: '<r1@x> <r2@x>' }, { name: 'In-Reply-To', value: '<R2@x>' }] };
    expect(repliedMessageIds(m)).toEqual(['<r2@x>', '<r1@x>']);
    expect(repliedMessageIds({})).toEqual([]);
  });

  it('lists parties with masks From 1, To 2, Cc 3, Bcc 4', () => {
    const m: Message = { from: { emailAddress: { address: 'F@x' } }, toRecipients: [{ emailAddress: { address: 't@x' } }], ccRecipients: [{ emailAddress: { address: 'c@x' } }], bccRecipients: [{ emailAddress: { address: 'b@x' } }, { emailAddress: {} }] };
    expect(messageParties(m)).toEqual([
      { mask: 1, address: 'f@x' },
      { mask: 2, address: 't@x' },
      { mask: 3, address: 'c@x' },
      { mask: 4, address: 'b@x' },
    ]);
  });

  it('builds the activity: direction, key, time, owner, resolved and unresolved parties, subject cut to 800', () => {
    const body = emailFromMessage(
      { subject: 's'.repeat(900), body: { contentType: 'html', content: '<p>x</p>' }, internetMessageId: '<A@B>', receivedDateTime: '2026-02-01T10:00:00.123Z' },
      { direction: 'incoming', parties: [{ mask: 1, address: 'f@x' }, { mask: 2, address: 'alice@contoso.example', bind: { property: 'partyid_systemuser@odata.bind', path: '/systemusers(su-a)' } }], ownerSystemUserId: 'su-a' },
      ctx,
    );
    expect(body).toEqual({
      subject: 's'.repeat(800),
      description: '<p>x</p>',
      directioncode: false,
      messageid: '<a@b>',
      actualend: '2026-02-01T10:00:00Z',
      'ownerid@odata.bind': '/systemusers(su-a)',
      email_activity_parties: [
        { participationtypemask: 1, addressused: 'f@x' },
        { participationtypemask: 2, 'partyid_systemuser@odata.bind': '/systemusers(su-a)', addressused: 'alice@contoso.example' },
      ],
    });
  });

  it('builds the draft with recipients by mask and the activity stamp', () => {
    const draft = draftFromEmail({ subject: 'Hi CRM:0001', description: '<b>x</b>' }, [{ mask: 2, address: 't@x' }, { mask: 3, address: 'c@x' }, { mask: 4, address: 'b@x' }], 'e1');
    expect(draft).toEqual({
      subject: 'Hi CRM:0001',
      body: { contentType: 'html', content: '<b>x</b>' },
      toRecipients: [{ emailAddress: { address: 't@x' } }],
      ccRecipients: [{ emailAddress: { address: 'c@x' } }],
      bccRecipients: [{ emailAddress: { address: 'b@x' } }],
      singleValueExtendedProperties: [{ id: activityIdProperty, value: 'e1' }],
    });
  });

  it.each<[number | undefined, string | undefined, string]>([
    [400, 'ErrorInvalidRecipients', 'failed'],
    [403, 'ErrorSendAsDenied', 'failed'],
    [403, 'ErrorMessageSubmissionBlocked', 'failed'],
    [429, 'ErrorSubmissionQuotaExceeded', 'retry'],
    [429, undefined, 'retry'],
    [503, undefined, 'retry'],
    [401, undefined, 'retry'],
    [400, 'SomethingElse', 'failed'],
    [undefined, undefined, 'retry'],
  ])('a send refused with %s %s: %s', (status, code, outcome) => {
    expect(classifySendFailure(status, code).outcome).toBe(outcome);
  });
});
