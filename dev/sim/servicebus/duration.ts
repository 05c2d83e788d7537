// ISO 8601 durations as the Bicep queue properties carry them (e.g. 'PT1M', 'P14D', 'PT0.5S'), in milliseconds.

const pattern = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Parses an ISO 8601 day-time duration ('PT1M', 'P1DT2H', 'PT0.25S') or passes a millisecond count through. */
export function durationToMs(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`duration ${value} ms must be a finite number >= 0`);
    return value;
  }
  const match = pattern.exec(value);
  // 'P' or 'PT' alone match the pattern with every group empty; they are not durations.
  if (!match || value === 'P' || value.endsWith('T')) {
    throw new RangeError(`'${value}' is not an ISO 8601 duration of days/hours/minutes/seconds (e.g. PT1M, P14D)`);
  }
  const [, d, h, m, s] = match;
  const num = (x: string | undefined) => (x === undefined ? 0 : Number(x));
  return Math.round(((num(d) * 24 + num(h)) * 60 + num(m)) * 60_000 + num(s) * 1000);
}
