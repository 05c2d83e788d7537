// Time zones as Exchange speaks them: Windows zone names ("W. Europe Standard Time") in mailbox settings and
// dateTimeTimeZone values, IANA names accepted on input (Graph accepts both in dateTimeTimeZone and in
// `Prefer: outlook.timezone`; GDC api-reference/v1.0/resources/datetimetimezone.md). Conversions use luxon and
// the CLDR Windows<->IANA table of windows-iana.
import { DateTime, IANAZone } from 'luxon';
import { findIana, findWindows, WINDOWS_TO_IANA_MAP } from 'windows-iana';

/** A zone resolved from a Windows or IANA name. */
export interface ResolvedZone {
  /** The IANA id used for arithmetic. */
  iana: string;
  /** The Windows name Exchange reports (falls back to the IANA id when CLDR has no Windows mapping). */
  windows: string;
  /** The name as the caller wrote it (echoed in dateTimeTimeZone.timeZone of responses). */
  label: string;
  isUtc: boolean;
}

const windowsByLower = new Map<string, string>();
for (const entry of WINDOWS_TO_IANA_MAP) windowsByLower.set(entry.windowsName.toLowerCase(), entry.windowsName);
const cache = new Map<string, ResolvedZone | undefined>();

/** Resolves a Windows or IANA zone name; undefined when neither knows it. */
export function resolveTimeZone(name: string): ResolvedZone | undefined {
  if (cache.has(name)) return cache.get(name);
  const resolved = resolveUncached(name);
  if (cache.size < 2000) cache.set(name, resolved);
  return resolved;
}

function resolveUncached(name: string): ResolvedZone | undefined {
  const trimmed = name.trim();
  if (!trimmed) return undefined;
  const lower = trimmed.toLowerCase();
  if (lower === 'utc' || lower === 'etc/utc' || lower === 'z' || lower === 'gmt' || lower === 'etc/gmt' || lower === 'coordinated universal time') {
    return { iana: 'UTC', windows: 'UTC', label: trimmed, isUtc: true };
  }
  const windows = windowsByLower.get(lower);
  if (windows) {
    const iana = findIana(windows)[0];
    if (iana && IANAZone.isValidZone(iana)) return { iana, windows, label: trimmed, isUtc: iana === 'Etc/UTC' || iana === 'UTC' };
  }
  if (IANAZone.isValidZone(trimmed)) {
    const win = findWindows(trimmed)[0] ?? trimmed;
    return { iana: trimmed, windows: win, label: trimmed, isUtc: win === 'UTC' };
  }
  return undefined;
}

const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?(Z|[+-]\d{2}:\d{2})?$/;

/** Parses a dateTimeTimeZone.dateTime in the given zone (an explicit offset in the value wins); undefined when malformed. */
export function parseZonedDateTime(value: string, zone: ResolvedZone): number | undefined {
  const m = LOCAL_RE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', offset] = m;
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const parts = { year: Number(y), month: Number(mo), day: Number(d), hour: Number(h), minute: Number(mi), second: Number(s), millisecond: ms };
  if (offset) {
    const dt = DateTime.fromObject(parts, { zone: offset === 'Z' ? 'UTC' : `UTC${offset}` });
    return dt.isValid ? dt.toMillis() : undefined;
  }
  if (zone.isUtc) {
    const t = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second, parts.millisecond);
    const check = new Date(t);
    return check.getUTCDate() === parts.day && check.getUTCMonth() === parts.month - 1 ? t : undefined;
  }
  const dt = DateTime.fromObject(parts, { zone: zone.iana });
  return dt.isValid ? dt.toMillis() : undefined;
}

/** Formats an instant as Graph's local dateTime in a zone: "2017-04-15T11:00:00.0000000". */
export function formatZonedDateTime(ms: number, zone: ResolvedZone): string {
  if (zone.isUtc) return `${new Date(ms).toISOString().slice(0, 23)}0000`;
  const dt = DateTime.fromMillis(ms, { zone: zone.iana });
  return `${dt.toFormat("yyyy-MM-dd'T'HH:mm:ss.SSS")}0000`;
}

/** The local calendar date (yyyy-MM-dd) of an instant in a zone. */
export function localDate(ms: number, zone: ResolvedZone): string {
  if (zone.isUtc) return new Date(ms).toISOString().slice(0, 10);
  return DateTime.fromMillis(ms, { zone: zone.iana }).toFormat('yyyy-MM-dd');
}

/** True when the instant is 00:00:00.000 local time in the zone (all-day events must start and end there). */
export function isLocalMidnight(ms: number, zone: ResolvedZone): boolean {
  if (zone.isUtc) return ms % 86_400_000 === 0;
  const dt = DateTime.fromMillis(ms, { zone: zone.iana });
  return dt.hour === 0 && dt.minute === 0 && dt.second === 0 && dt.millisecond === 0;
}

/** Midnight of a local date in a zone, as an instant. */
export function midnightOf(date: string, zone: ResolvedZone): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  if (zone.isUtc) return Date.UTC(y, m - 1, d);
  return DateTime.fromObject({ year: y, month: m, day: d }, { zone: zone.iana }).toMillis();
}

/** A UTC timestamp with 7 fractional digits, as Outlook writes createdDateTime: "2017-04-15T03:00:50.7579581Z". */
export function utcTimestamp7(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}0000Z`;
}

/** A UTC timestamp without fractions, as contacts show it: "2017-09-04T15:54:01Z". */
export function utcTimestamp0(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

export const UTC_ZONE: ResolvedZone = { iana: 'UTC', windows: 'UTC', label: 'UTC', isUtc: true };
