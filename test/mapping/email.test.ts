// The email mapping: keys, direction, parties, the activity body, the draft, and how a refused send ends.
import type { Message } from '@microsoft/microsoft-graph-types';
import { describe, expect, it } from 'vitest';
import { activityIdProperty, classifySendFailure, draftFromEmail, emailFromMessage, headerOf, messageDirection, messageParties, normalizeMessageId, repliedMessageIds, sendFailureRules } from '../../shared/mapping/index.js';

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

describe('email mapping: the edges', () => {
  it.each([
    ['   ', undefined],
    [undefined, undefined],
    [' <Id@Host> ', '<id@host>'],
  ])('normalizes the Message-ID %j', (input, expected) => {
    expect(normalizeMessageId(input)).toBe(expected);
  });

  const dana = { address: 'Dana@Contoso.example', userPrincipalName: 'dana.swope@contoso.onmicrosoft.example' };
  it.each<[string, Message, string | undefined, string]>([
    ['from the owner\'s address, whatever the case of the recorded address', { from: { emailAddress: { address: 'dana@contoso.example' } } }, undefined, 'outgoing'],
    ['from the owner\'s user principal name (not the primary address)', { from: { emailAddress: { address: 'Dana.Swope@contoso.onmicrosoft.example' } } }, undefined, 'outgoing'],
    ['from the owner, with blanks around the address', { from: { emailAddress: { address: ' dana@contoso.example ' } } }, undefined, 'outgoing'],
    ['without a From and outside Sent Items: incoming', { parentFolderId: 'inbox' }, 'sent', 'incoming'],
    ['without a From, in Sent Items: outgoing', { parentFolderId: 'sent' }, 'sent', 'outgoing'],
    ['a From without an address: incoming', { from: {} }, undefined, 'incoming'],
    ['someone else\'s, in another folder while Sent Items is known: incoming', { from: { emailAddress: { address: 'x@fabrikam.example' } }, parentFolderId: 'inbox' }, 'sent', 'incoming'],
  ])('direction: %s', (_n, m, sentItems, expected) => {
    expect(messageDirection(m, dana, sentItems)).toBe(expected);
  });

  it('reads a header by name whatever its case, and nothing when the message has no such header', () => {
    const m: Message = { internetMessageHeaders: [{ name: 'x-other', value: 'a' }, { value: 'nameless' }, { name: 'in-reply-to', value: '<p@x>' }] };
    expect(headerOf(m, 'In-Reply-To')).toBe('<p@x>');
    expect(headerOf(m, 'References')).toBeUndefined();
    expect(headerOf({ internetMessageHeaders: [{ name: 'References', value: null }] }, 'References')).toBeUndefined();
    expect(headerOf({}, 'References')).toBeUndefined();
  });

  it('puts the message answered first, then the references newest first, each once', () => {
    const m: Message = { internetMessageHeaders: [{ name: 'In-Reply-To', value: '<P@x>' }, { name: 'References', value: '<r1@x> <r2@x> <p@x>' }] };
    expect(repliedMessageIds(m)).toEqual(['<p@x>', '<r2@x>', '<r1@x>']);
    const notInReferences: Message = { internetMessageHeaders: [{ name: 'In-Reply-To', value: '<q@x>' }, { name: 'References', value: '<r1@x> <r2@x>' }] };
    expect(repliedMessageIds(notInReferences)).toEqual(['<q@x>', '<r2@x>', '<r1@x>']);
  });

  it('takes only the bracketed ids of a header, with the text around them left out', () => {
    const m: Message = { internetMessageHeaders: [{ name: 'References', value: 'see <Long.Id+1@mail.example>,\r\n\t<b@x> (old) c@x' }] };
    expect(repliedMessageIds(m)).toEqual(['<b@x>', '<long.id+1@mail.example>']);
    expect(repliedMessageIds({ internetMessageHeaders: [{ name: 'In-Reply-To', value: 'no id here' }] })).toEqual([]);
    expect(repliedMessageIds({ internetMessageHeaders: [{ name: 'References', value: '<r1@x>' }] })).toEqual(['<r1@x>']);
  });

  it('lists no party for a message without sender or recipients, and skips recipients without an address', () => {
    expect(messageParties({})).toEqual([]);
    expect(messageParties({ from: { emailAddress: { address: '  ' } }, toRecipients: [{}, { emailAddress: { address: ' T@x ' } }], ccRecipients: null })).toEqual([{ mask: 2, address: 't@x' }]);
  });

  const parties = [{ mask: 1 as const, address: 'f@x' }];
  const received = '2026-02-01T10:00:00Z';
  const sent = '2026-02-01T09:59:00Z';
  it.each<[string, 'incoming' | 'outgoing', Message, string | undefined]>([
    ['incoming: the received time', 'incoming', { receivedDateTime: received, sentDateTime: sent }, received],
    ['outgoing: the sent time', 'outgoing', { receivedDateTime: received, sentDateTime: sent }, sent],
    ['incoming without a received time: the sent time', 'incoming', { sentDateTime: sent }, sent],
    ['outgoing without a sent time: the received time', 'outgoing', { receivedDateTime: received }, received],
    ['no time at all: no actualend', 'outgoing', {}, undefined],
  ])('the activity\'s time, %s', (_n, direction, m, expected) => {
    const body = emailFromMessage(m, { direction, parties, ownerSystemUserId: 'su-a' }, ctx);
    expect(body.actualend).toBe(expected);
    expect('actualend' in body).toBe(expected !== undefined);
  });

  it('builds an outgoing activity without subject, body or Message-ID, and with a regarding', () => {
    const body = emailFromMessage(
      { sentDateTime: '2026-02-01T10:00:00.5+01:00' },
      { direction: 'outgoing', parties: [], ownerSystemUserId: 'su-b', regarding: { property: 'regardingobjectid_contact_email@odata.bind', path: '/contacts(c1)' } },
      ctx,
    );
    expect(body).toEqual({
      subject: '',
      description: '',
      directioncode: true,
      messageid: undefined,
      actualend: '2026-02-01T09:00:00Z',
      'ownerid@odata.bind': '/systemusers(su-b)',
      'regardingobjectid_contact_email@odata.bind': '/contacts(c1)',
      email_activity_parties: [],
    });
  });

  it('keeps a subject of exactly 800 characters whole', () => {
    const subject = 'é'.repeat(800);
    expect(emailFromMessage({ subject }, { direction: 'incoming', parties, ownerSystemUserId: 'su-a' }, ctx).subject).toBe(subject);
  });

  it('builds a draft with empty subject and body when the email has none (or not as text), and empty recipient lists', () => {
    expect(draftFromEmail({ subject: null, description: 42 }, [{ mask: 1, address: 'f@x' }], 'e2')).toEqual({
      subject: '',
      body: { contentType: 'html', content: '' },
      toRecipients: [],
      ccRecipients: [],
      bccRecipients: [],
      singleValueExtendedProperties: [{ id: activityIdProperty, value: 'e2' }],
    });
  });

  it('gives each listed refusal its rule\'s outcome and reason, whatever the status', () => {
    for (const rule of sendFailureRules) {
      const expected = rule.outcome === 'failed' ? { outcome: 'failed', reason: rule.reason } : { outcome: 'retry' };
      expect(classifySendFailure(undefined, rule.code)).toEqual(expected);
      expect(classifySendFailure(503, rule.code)).toEqual(expected);
    }
  });

  it.each<[number | undefined, string | undefined, ReturnType<typeof classifySendFailure>]>([
    [400, 'SomethingElse', { outcome: 'failed', reason: 'Exchange refused the send (400 SomethingElse)' }],
    [404, undefined, { outcome: 'failed', reason: 'Exchange refused the send (404)' }],
    [499, '', { outcome: 'failed', reason: 'Exchange refused the send (499)' }],
    [408, 'RequestTimeout', { outcome: 'retry' }],
    [429, 'TooManyRequests', { outcome: 'retry' }],
    [401, 'InvalidAuthenticationToken', { outcome: 'retry' }],
    [500, 'InternalServerError', { outcome: 'retry' }],
    [399, 'Unexpected', { outcome: 'retry' }],
    [302, undefined, { outcome: 'retry' }],
  ])('an unlisted refusal %s %s', (status, code, expected) => {
    expect(classifySendFailure(status, code)).toEqual(expected);
  });
});
