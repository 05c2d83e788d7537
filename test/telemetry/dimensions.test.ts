// The scrubbing allow-list of shared/telemetry: only named keys, with id-like values, become telemetry dimensions.
import { describe, expect, it } from 'vitest';
import { allowedDimensions, dimensions } from '../../shared/telemetry/index.js';

describe('telemetry dimensions allow-list', () => {
  it('passes named ids, codes, kinds and counts', () => {
    expect(
      dimensions({ mailboxId: '776579c3-74b7-496e-b500-90e02514849b', direction: 'toExchange', kind: 'appointment', outcome: 'created', exchangeId: 'AAMkAXC2IK9C-YTT3kZk2w0D=', attempt: 2, errorCode: 'Throttled', latencyMs: 12.5 }),
    ).toEqual({ mailboxId: '776579c3-74b7-496e-b500-90e02514849b', direction: 'toExchange', kind: 'appointment', outcome: 'created', exchangeId: 'AAMkAXC2IK9C-YTT3kZk2w0D=', attempt: 2, errorCode: 'Throttled', latencyMs: 12.5 });
  });

  it('drops every key it does not name, whatever the value (subjects, bodies, addresses, secrets, URLs)', () => {
    const dropped = dimensions({
      subject: 'Board meeting',
      body: 'confidential',
      description: 'x',
      userPrincipalName: 'alice@contoso.example',
      error: 'ErrorInvalidRequest',
      clientState: 'abc',
      url: 'https://example.org/api/graph/notifications?code=secret',
      outcomes: ['created@mailbox'],
    });
    expect(dropped).toEqual({});
    for (const key of Object.keys(allowedDimensions)) expect(key).not.toMatch(/subject|body|description|address|email|secret|password|key|token|clientstate|url|displayname|principalname/i);
  });

  it('drops a value under an allowed key that does not look like an id (spaces, an @, too long, not finite)', () => {
    expect(dimensions({ reason: 'The event Board meeting is invalid', mailboxId: 'alice@contoso.example', code: 'x'.repeat(257), latencyMs: Number.NaN, kind: { nested: 1 } })).toEqual({});
  });
});
