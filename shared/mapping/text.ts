// Canonical text: the form two strings take before the sync compares them, so that cosmetic differences the
// services introduce (CRLF line ends, trailing blanks, "" versus null) never count as a change.

/** Trims, normalises line ends, and turns empty text into null. */
export function canonicalText(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const text = value.replace(/\r\n?/g, '\n').trim();
  return text === '' ? null : text;
}

const entities: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/**
 * Plain text of an HTML body. Exchange returns event bodies as HTML unless asked for text
 * (`Prefer: outlook.body-content-type="text"`), while Dataverse activity descriptions are plain text.
 */
export function htmlToText(html: string): string {
  const withBreaks = html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|tr|h[1-6])>/gi, '\n')
    .replace(/<[^>]*>/g, '');
  const decoded = withBreaks.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (match, code: string) => {
    if (code.startsWith('#')) {
      const point = code[1] === 'x' || code[1] === 'X' ? Number.parseInt(code.slice(2), 16) : Number.parseInt(code.slice(1), 10);
      return point <= 0x10ffff ? String.fromCodePoint(point) : match;
    }
    return entities[code.toLowerCase()] ?? match;
  });
  return decoded
    .split('\n')
    .map((line) => line.replace(/[ \t]+$/g, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n');
}

/** Canonical text of a Graph itemBody (HTML converted to text). */
export function canonicalBody(body: { contentType?: string | null; content?: string | null } | null | undefined): string | null {
  if (!body?.content) return null;
  return canonicalText(body.contentType?.toLowerCase() === 'html' ? htmlToText(body.content) : body.content);
}
