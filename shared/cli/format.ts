// Plain-text output of the CLI: aligned tables an operator can read in a terminal and grep.

/** Renders rows as a left-aligned table with a header line; cells are single-line. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const clean = (cell: string) => cell.replace(/\s+/g, ' ').trim() || '-';
  const body = rows.map((row) => headers.map((_, i) => clean(row[i] ?? '')));
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(headers), ...body.map(line)].join('\n');
}

/** Cuts a text to `max` characters, marking the cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}
