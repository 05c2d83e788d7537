// Secret comparison for webhook keys and Graph clientState.
import { timingSafeEqual } from 'node:crypto';

/** Compares a secret with what a caller sent, in time independent of where they differ. */
export function constantTimeEquals(expected: string, given: string | null | undefined): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  if (a.length !== b.length) {
    // timingSafeEqual needs equal lengths; compare against itself so the length check costs the same time.
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}
