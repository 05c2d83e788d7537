// Threading of replies and forwards: the Thread-Index bytes that Graph shows as `conversationIndex`
// (PidTagConversationIndex, [MS-OXOMSG] 2.2.1.3, https://learn.microsoft.com/openspecs/exchange_server_protocols/ms-oxomsg/9e994fbb-b839-495f-84e3-2c8c02c7dd9b):
// a 22-byte header block (a reserved byte, the top five bytes of a FILETIME, a GUID) for a new conversation, plus
// one 5-byte child block per reply or forward; and the In-Reply-To / References headers of RFC 5322 section 3.6.4.

/** 100-ns intervals between 1601-01-01 and 1970-01-01. */
const FILETIME_EPOCH_OFFSET = 116_444_736_000_000_000n;

function filetime(ms: number): bigint {
  return BigInt(Math.floor(ms)) * 10_000n + FILETIME_EPOCH_OFFSET;
}

/** The header block of a new conversation, base64 (Graph's Edm.Binary form). */
export function newConversationIndex(nowMs: number, guid: Buffer): string {
  const ft = filetime(nowMs);
  const head = Buffer.alloc(6);
  head[0] = 0x01;
  // The top 40 bits of the 64-bit FILETIME.
  const top = ft >> 24n;
  for (let i = 0; i < 5; i += 1) head[1 + i] = Number((top >> BigInt(8 * (4 - i))) & 0xffn);
  return Buffer.concat([head, guid.subarray(0, 16)]).toString('base64');
}

/** The parent's index with one child block appended (a reply or forward). */
export function childConversationIndex(parent: string, nowMs: number, random: number): string {
  const bytes = Buffer.from(parent, 'base64');
  if (bytes.length < 22) return newConversationIndex(nowMs, Buffer.alloc(16, random & 0xff));
  let headerTop = 0n;
  for (let i = 0; i < 5; i += 1) headerTop = (headerTop << 8n) | BigInt(bytes[1 + i] as number);
  const delta = filetime(nowMs) - (headerTop << 24n);
  // Code bit 0: the delta in units of 2^18 (about 26 ms) fits in 31 bits for about 1.7 years.
  const units = delta > 0n ? (delta >> 18n) & 0x7fffffffn : 0n;
  const child = Buffer.alloc(5);
  child.writeUInt32BE(Number(units), 0);
  child[4] = random & 0xff;
  return Buffer.concat([bytes, child]).toString('base64');
}

/** References of a reply: the parent's References followed by the parent's Message-ID (RFC 5322 3.6.4). */
export function replyReferences(parentReferences: readonly string[], parentMessageId: string): string[] {
  return [...parentReferences.filter((r) => r !== parentMessageId), parentMessageId];
}

/** "RE: x" / "FW: x", without stacking prefixes Outlook already put there. */
export function prefixedSubject(prefix: 'RE' | 'FW', subject: string): string {
  const re = new RegExp(`^${prefix}:\\s`, 'i');
  return re.test(subject) ? subject : `${prefix}: ${subject}`;
}
