// The deterministic ids (shared/sync/ids.ts): a retried create must name the same record, across retries, hosts and
// releases, so the expected values are fixed here (computed independently with Python's uuid.uuid5).
import { describe, expect, it } from 'vitest';
import { appointmentIdForMeeting, recordIdForExchangeItem, seriesIdForAppointment, transactionIdFor, uuidV5 } from '../../../shared/sync/ids.js';

const mailbox = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';

describe('deterministic ids', () => {
  it('uuidV5 is RFC 4122 name-based SHA-1 (the RFC\'s DNS namespace example)', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('each id keeps its value across releases (changing it would duplicate records created before an upgrade)', () => {
    expect(appointmentIdForMeeting('040000008200E00074C5B7101A82E008')).toBe('4edb95af-4de2-56de-8523-176f4769bd9e');
    expect(recordIdForExchangeItem(mailbox, 'AAMkAGI2T/+abc==')).toBe('7edb6db9-1f42-5b59-b9bc-9a7314ae80d5');
    expect(transactionIdFor(mailbox, '11111111-aaaa-4111-8111-111111111111')).toBe('d611908c-edb3-5719-8a4d-bfaae966ce4d');
    expect(seriesIdForAppointment('11111111-aaaa-4111-8111-111111111111')).toBe('fe34c80c-7367-54ee-8c15-cfe97817e2be');
  });

  it('the case of a GUID does not change an id; the case of a Graph id (case-sensitive) does', () => {
    const upper = mailbox.toUpperCase();
    expect(recordIdForExchangeItem(upper, 'AAMkAGI2T/+abc==')).toBe(recordIdForExchangeItem(mailbox, 'AAMkAGI2T/+abc=='));
    expect(recordIdForExchangeItem(mailbox, 'AAMkAGI2T/+ABC==')).not.toBe(recordIdForExchangeItem(mailbox, 'AAMkAGI2T/+abc=='));
    expect(transactionIdFor(upper, '11111111-AAAA-4111-8111-111111111111')).toBe(transactionIdFor(mailbox, '11111111-aaaa-4111-8111-111111111111'));
    expect(seriesIdForAppointment('11111111-AAAA-4111-8111-111111111111')).toBe(seriesIdForAppointment('11111111-aaaa-4111-8111-111111111111'));
  });

  it("the series an appointment becomes never takes the appointment's own id (activities share one id space)", () => {
    const appointment = appointmentIdForMeeting('040000008200E00074C5B7101A82E008');
    expect(seriesIdForAppointment(appointment)).not.toBe(appointment);
  });
});
