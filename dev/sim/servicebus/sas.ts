// Checks the SAS tokens the SDK puts on $cbs (put-token, type servicebus.windows.net:sastoken). The token format and
// signature are those of @azure/core-amqp's createSasTokenProvider:
//   SharedAccessSignature sr=<url-encoded audience>&sig=<url-encoded base64 HMAC-SHA256>&se=<expiry s>&skn=<key name>
// where the signed string is `<url-encoded audience>\n<expiry>`.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SasCheck = { ok: true; audiencePath: string; expiresAt: number } | { ok: false; reason: string };

/** Verifies a SAS token against the namespace key; returns the entity path it grants (lower case, '' = namespace). */
export function verifySasToken(token: unknown, keyName: string, key: string, now = Date.now()): SasCheck {
  if (typeof token !== 'string' || !token.startsWith('SharedAccessSignature ')) {
    return { ok: false, reason: 'The token is not a SharedAccessSignature.' };
  }
  const fields = new Map<string, string>();
  for (const part of token.slice('SharedAccessSignature '.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (!sr || !sig || !se || !skn) return { ok: false, reason: 'The SAS token lacks one of sr, sig, se, skn.' };
  if (decodeURIComponent(skn) !== keyName) return { ok: false, reason: `Unknown shared access key name '${decodeURIComponent(skn)}'.` };
  const expected = createHmac('sha256', key).update(`${sr}\n${se}`).digest();
  const given = Buffer.from(decodeURIComponent(sig), 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'InvalidSignature: The token has an invalid signature.' };
  }
  const expiresAt = Number(se) * 1000;
  if (!Number.isFinite(expiresAt) || expiresAt <= now) return { ok: false, reason: 'ExpiredToken: The token is expired.' };
  let audiencePath: string;
  try {
    audiencePath = new URL(decodeURIComponent(sr)).pathname.replace(/^\/+|\/+$/g, '').toLowerCase();
  } catch {
    return { ok: false, reason: `The token audience '${decodeURIComponent(sr)}' is not a URI.` };
  }
  return { ok: true, audiencePath, expiresAt };
}
