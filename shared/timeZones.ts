// The one converter between the zone names Microsoft services use and IANA zones. Graph names a zone the Windows way
// ("W. Europe Standard Time") or the IANA way ("Europe/Berlin"), and UTC also as "tzone://Microsoft/Utc"
// (https://learn.microsoft.com/graph/api/resources/datetimetimezone); Dataverse and our mapping compute in IANA zones.
import { IANAZone } from 'luxon';
import { findIana, findWindows } from 'windows-iana';

const utcNames = new Set(['UTC', 'tzone://Microsoft/Utc']);

// windows-iana scans its whole table per call, and luxon's IANAZone.isValidZone builds an Intl.DateTimeFormat per
// call; zone names repeat on every item, so the answers are kept (the zone names are a small closed set).
const ianaByWindows = new Map<string, readonly string[]>();
const windowsByIana = new Map<string, string | undefined>();
const validZones = new Map<string, boolean>();

/** Whether luxon (the platform's Intl) knows this IANA zone; memoized. */
export function isValidZone(name: string): boolean {
  let valid = validZones.get(name);
  if (valid === undefined) {
    valid = IANAZone.isValidZone(name);
    // Bounded: a hostile item could name endless made-up zones.
    if (validZones.size < 1024) validZones.set(name, valid);
  }
  return valid;
}

/**
 * The IANA zone for a Windows, IANA or UTC zone name, or undefined when it is none of them. A Windows name that
 * covers several IANA zones gives `preferred` when that is one of them (the mailbox's own zone), else the first.
 */
export function ianaZoneOf(name: string, preferred?: string): string | undefined {
  if (utcNames.has(name)) return 'UTC';
  if (isValidZone(name)) return name;
  let candidates = ianaByWindows.get(name);
  if (candidates === undefined) {
    candidates = findIana(name);
    if (ianaByWindows.size < 1024) ianaByWindows.set(name, candidates);
  }
  if (preferred !== undefined && candidates.includes(preferred)) return preferred;
  return candidates.find((zone) => isValidZone(zone));
}

/** The Windows zone name for an IANA zone, or undefined when Windows has no such zone. */
export function windowsZoneOf(iana: string): string | undefined {
  if (!windowsByIana.has(iana)) windowsByIana.set(iana, findWindows(iana)[0]);
  return windowsByIana.get(iana);
}
