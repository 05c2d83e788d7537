// The subset of OData $filter that Graph's Outlook and To Do endpoints accept and the product uses:
// comparisons (eq ne gt ge lt le), and/or/not, parentheses, startswith/endswith/contains, and lambda any/all
// over collections, e.g. categories/any(c:c eq 'x') and
// singleValueExtendedProperties/any(ep: ep/id eq '...' and ep/value eq '...') (GDC concepts/query-parameters.md;
// api-reference/v1.0/api/singlevaluelegacyextendedproperty-get.md). String comparisons are case-insensitive, as
// Exchange's are. Equality clauses on indexed properties become index hints so a query never scans a mailbox.
import { GraphError } from './graphError.js';

export type Operand =
  | { t: 'lit'; v: string | number | boolean | null; raw: string; quoted: boolean }
  | { t: 'path'; path: string[] }
  | { t: 'call'; name: string; args: Operand[] };

export type FilterExpr =
  | { t: 'and' | 'or'; l: FilterExpr; r: FilterExpr }
  | { t: 'not'; e: FilterExpr }
  | { t: 'cmp'; op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'; l: Operand; r: Operand }
  | { t: 'lambda'; kind: 'any' | 'all'; path: string[]; v: string; body: FilterExpr }
  | { t: 'fn'; call: Operand & { t: 'call' } }
  | { t: 'truthy'; operand: Operand };

type Token = { k: 'str' | 'word' | 'num' | 'punct'; v: string; pos: number };

const invalid = (message: string): GraphError => new GraphError(400, 'BadRequest', `Invalid filter clause: ${message}`);

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (/\s/.test(ch)) {
      i += 1;
      continue;
    }
    if (ch === "'") {
      let j = i + 1;
      let v = '';
      for (;;) {
        if (j >= text.length) throw invalid(`unterminated string literal at position ${i}`);
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            v += "'";
            j += 2;
            continue;
          }
          break;
        }
        v += text[j];
        j += 1;
      }
      out.push({ k: 'str', v, pos: i });
      i = j + 1;
      continue;
    }
    if ('()/,:'.includes(ch)) {
      out.push({ k: 'punct', v: ch, pos: i });
      i += 1;
      continue;
    }
    if (/[0-9-]/.test(ch)) {
      const m = /^-?[0-9][0-9A-Za-z:.+-]*/.exec(text.slice(i));
      if (m) {
        out.push({ k: 'num', v: m[0], pos: i });
        i += m[0].length;
        continue;
      }
    }
    const m = /^[A-Za-z_@$][A-Za-z0-9_.@$]*/.exec(text.slice(i));
    if (!m) throw invalid(`unexpected character '${ch}' at position ${i}`);
    out.push({ k: 'word', v: m[0], pos: i });
    i += m[0].length;
  }
  return out;
}

const CMP = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const FUNCS = new Set(['startswith', 'endswith', 'contains', 'tolower', 'toupper']);

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  parse(): FilterExpr {
    const e = this.or();
    if (this.i < this.toks.length) throw invalid(`unexpected '${this.toks[this.i]?.v ?? ''}'`);
    return e;
  }

  private peek(): Token | undefined {
    return this.toks[this.i];
  }

  private isWord(v: string): boolean {
    const t = this.peek();
    return t?.k === 'word' && t.v.toLowerCase() === v;
  }

  private expectPunct(v: string): void {
    const t = this.peek();
    if (t?.k !== 'punct' || t.v !== v) throw invalid(`expected '${v}'${t ? ` near '${t.v}'` : ' at end'}`);
    this.i += 1;
  }

  private or(): FilterExpr {
    let l = this.and();
    while (this.isWord('or')) {
      this.i += 1;
      l = { t: 'or', l, r: this.and() };
    }
    return l;
  }

  private and(): FilterExpr {
    let l = this.unary();
    while (this.isWord('and')) {
      this.i += 1;
      l = { t: 'and', l, r: this.unary() };
    }
    return l;
  }

  private unary(): FilterExpr {
    if (this.isWord('not')) {
      this.i += 1;
      return { t: 'not', e: this.unary() };
    }
    const t = this.peek();
    if (t?.k === 'punct' && t.v === '(') {
      this.i += 1;
      const e = this.or();
      this.expectPunct(')');
      return e;
    }
    const left = this.operandOrLambda();
    if ('t' in left && left.t === 'lambda') return left;
    const op = this.peek();
    if (op?.k === 'word' && CMP.has(op.v.toLowerCase())) {
      this.i += 1;
      const right = this.operandOrLambda();
      if (right.t === 'lambda') throw invalid('a lambda cannot be compared');
      return { t: 'cmp', op: op.v.toLowerCase() as 'eq', l: left, r: right };
    }
    const operand = left;
    if (operand.t === 'call') return { t: 'fn', call: operand };
    return { t: 'truthy', operand };
  }

  private operandOrLambda(): Operand | (FilterExpr & { t: 'lambda' }) {
    const t = this.peek();
    if (!t) throw invalid('unexpected end of expression');
    this.i += 1;
    if (t.k === 'str') return { t: 'lit', v: t.v, raw: t.v, quoted: true };
    if (t.k === 'num') {
      const n = Number(t.v);
      return { t: 'lit', v: Number.isFinite(n) && /^-?\d+(\.\d+)?$/.test(t.v) ? n : t.v, raw: t.v, quoted: false };
    }
    if (t.k !== 'word') throw invalid(`unexpected '${t.v}'`);
    const lower = t.v.toLowerCase();
    if (lower === 'true' || lower === 'false') return { t: 'lit', v: lower === 'true', raw: lower, quoted: false };
    if (lower === 'null') return { t: 'lit', v: null, raw: 'null', quoted: false };
    const next = this.peek();
    if (FUNCS.has(lower) && next?.k === 'punct' && next.v === '(') {
      this.i += 1;
      const args: Operand[] = [];
      for (;;) {
        const a = this.operandOrLambda();
        if (a.t === 'lambda') throw invalid('lambda is not a function argument');
        args.push(a);
        const sep = this.peek();
        if (sep?.k === 'punct' && sep.v === ',') {
          this.i += 1;
          continue;
        }
        break;
      }
      this.expectPunct(')');
      return { t: 'call', name: lower, args };
    }
    const path = [t.v];
    for (;;) {
      const slash = this.peek();
      if (slash?.k !== 'punct' || slash.v !== '/') break;
      this.i += 1;
      const seg = this.peek();
      if (seg?.k !== 'word') throw invalid('expected a property name after /');
      this.i += 1;
      const after = this.peek();
      const segLower = seg.v.toLowerCase();
      if ((segLower === 'any' || segLower === 'all') && after?.k === 'punct' && after.v === '(') {
        this.i += 1;
        const v = this.peek();
        if (v?.k !== 'word') throw invalid(`expected a range variable in ${segLower}()`);
        this.i += 1;
        this.expectPunct(':');
        const body = this.or();
        this.expectPunct(')');
        return { t: 'lambda', kind: segLower, path, v: v.v, body };
      }
      path.push(seg.v);
    }
    return { t: 'path', path };
  }
}

/** Parses a $filter expression; throws a Graph 400 naming the problem. */
export function parseFilter(text: string): FilterExpr {
  return new Parser(tokenize(text)).parse();
}

type Scope = { root: unknown; vars: Map<string, unknown> };

function getProp(obj: unknown, key: string): unknown {
  if (obj === null || typeof obj !== 'object') return undefined;
  const rec = obj as Record<string, unknown>;
  if (key in rec) return rec[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(rec)) if (k.toLowerCase() === lower) return rec[k];
  return undefined;
}

function resolvePath(path: string[], scope: Scope): unknown {
  const [head, ...rest] = path as [string, ...string[]];
  let cur: unknown = scope.vars.has(head) ? scope.vars.get(head) : getProp(scope.root, head);
  for (const seg of rest) cur = getProp(cur, seg);
  return cur;
}

function operandValue(o: Operand, scope: Scope): unknown {
  if (o.t === 'lit') return o.v;
  if (o.t === 'path') return resolvePath(o.path, scope);
  const args = o.args.map((a) => operandValue(a, scope));
  const s = (v: unknown) => scalarText(v);
  switch (o.name) {
    case 'tolower':
      return typeof args[0] === 'string' ? args[0].toLowerCase() : args[0];
    case 'toupper':
      return typeof args[0] === 'string' ? args[0].toUpperCase() : args[0];
    case 'startswith':
      return s(args[0]).startsWith(s(args[1]));
    case 'endswith':
      return s(args[0]).endsWith(s(args[1]));
    case 'contains':
      return s(args[0]).includes(s(args[1]));
    default:
      throw invalid(`unknown function ${o.name}`);
  }
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$/;

function asTime(v: unknown): number | undefined {
  if (typeof v !== 'string' || !ISO_RE.test(v)) return undefined;
  const trimmed = v.replace(/(\.\d{3})\d+/, '$1');
  const withZone = /(Z|[+-]\d{2}:\d{2})$/.test(trimmed) ? trimmed : `${trimmed}${trimmed.length === 10 ? 'T00:00:00' : ''}Z`;
  const t = Date.parse(withZone);
  return Number.isNaN(t) ? undefined : t;
}

function scalarText(v: unknown): string {
  if (typeof v === 'string') return v.toLowerCase();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return '';
  return JSON.stringify(v).toLowerCase();
}

/** Compares two property values the way Outlook's filters do (case-insensitive strings, dates by instant). */
export function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
  if (b === null || b === undefined) return 1;
  const ta = asTime(a);
  const tb = asTime(b);
  if (ta !== undefined && tb !== undefined) return ta - tb;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const sa = scalarText(a);
  const sb = scalarText(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function evalExpr(e: FilterExpr, scope: Scope): boolean {
  switch (e.t) {
    case 'and':
      return evalExpr(e.l, scope) && evalExpr(e.r, scope);
    case 'or':
      return evalExpr(e.l, scope) || evalExpr(e.r, scope);
    case 'not':
      return !evalExpr(e.e, scope);
    case 'fn':
      return operandValue(e.call, scope) === true;
    case 'truthy':
      return operandValue(e.operand, scope) === true;
    case 'cmp': {
      const a = operandValue(e.l, scope);
      const b = operandValue(e.r, scope);
      if (e.op === 'eq' || e.op === 'ne') {
        const eq = (a === null || a === undefined) && (b === null || b === undefined) ? true : a === null || a === undefined || b === null || b === undefined ? false : compareValues(a, b) === 0;
        return e.op === 'eq' ? eq : !eq;
      }
      if (a === null || a === undefined || b === null || b === undefined) return false;
      const c = compareValues(a, b);
      return e.op === 'gt' ? c > 0 : e.op === 'ge' ? c >= 0 : e.op === 'lt' ? c < 0 : c <= 0;
    }
    case 'lambda': {
      const coll = resolvePath(e.path, scope);
      const items = Array.isArray(coll) ? coll : [];
      const test = (item: unknown) => {
        const vars = new Map(scope.vars);
        vars.set(e.v, item);
        return evalExpr(e.body, { root: scope.root, vars });
      };
      return e.kind === 'any' ? items.some(test) : items.every(test);
    }
  }
}

/** True when the item (its full Graph JSON view) satisfies the filter. */
export function matchesFilter(e: FilterExpr, item: unknown): boolean {
  return evalExpr(e, { root: item, vars: new Map() });
}

const lowerPath = (p: string[]) => p.map((s) => s.toLowerCase()).join('/');

function litString(o: Operand): string | undefined {
  return o.t === 'lit' && typeof o.v === 'string' ? o.v : undefined;
}

function varEq(e: FilterExpr, v: string, prop: string | undefined): string | undefined {
  if (e.t !== 'cmp' || e.op !== 'eq') return undefined;
  const pairs: [Operand, Operand][] = [
    [e.l, e.r],
    [e.r, e.l],
  ];
  for (const [p, lit] of pairs) {
    const s = litString(lit);
    if (s === undefined || p.t !== 'path') continue;
    const want = prop === undefined ? [v] : [v, prop];
    if (p.path.length === want.length && p.path.every((seg, i) => seg.toLowerCase() === want[i]?.toLowerCase())) return s;
  }
  return undefined;
}

/**
 * Index keys implied by top-level `and` conjuncts: `ical:<uid>`, `tx:<id>`, `cat:<name>`, `ep:<id>\u0000<value>`,
 * `email:<address>`, `lr:<externalId>` (all lower-cased). An item can only match if it is in every hinted index set.
 */
export function indexHints(e: FilterExpr): string[] {
  const out: string[] = [];
  const visit = (x: FilterExpr) => {
    if (x.t === 'and') {
      visit(x.l);
      visit(x.r);
      return;
    }
    if (x.t === 'cmp' && x.op === 'eq') {
      for (const [p, lit] of [
        [x.l, x.r],
        [x.r, x.l],
      ] as [Operand, Operand][]) {
        const s = litString(lit);
        if (s === undefined || p.t !== 'path') continue;
        const lp = lowerPath(p.path);
        if (lp === 'icaluid') out.push(`ical:${s.toLowerCase()}`);
        if (lp === 'transactionid') out.push(`tx:${s.toLowerCase()}`);
        if (lp === 'internetmessageid') out.push(`imid:${s.toLowerCase()}`);
        if (lp === 'conversationid') out.push(`conv:${s.toLowerCase()}`);
      }
      return;
    }
    if (x.t === 'lambda' && x.kind === 'any') {
      const lp = lowerPath(x.path);
      if (lp === 'categories') {
        const s = varEq(x.body, x.v, undefined);
        if (s !== undefined) out.push(`cat:${s.toLowerCase()}`);
      } else if (lp === 'linkedresources') {
        const s = varEq(x.body, x.v, 'externalId');
        if (s !== undefined) out.push(`lr:${s.toLowerCase()}`);
      } else if (lp === 'emailaddresses') {
        const s = varEq(x.body, x.v, 'address');
        if (s !== undefined) out.push(`email:${s.toLowerCase()}`);
      } else if (lp === 'singlevalueextendedproperties' && x.body.t === 'and') {
        const id = varEq(x.body.l, x.v, 'id') ?? varEq(x.body.r, x.v, 'id');
        const value = varEq(x.body.l, x.v, 'value') ?? varEq(x.body.r, x.v, 'value');
        if (id !== undefined && value !== undefined) out.push(`ep:${normaliseExtendedPropertyId(id)}\u0000${value.toLowerCase()}`);
      }
    }
  };
  visit(e);
  return out;
}

/** Canonical (lower-case, single-spaced) form of an extended property id, for comparing ids. */
export function normaliseExtendedPropertyId(id: string): string {
  return id.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Parses $orderby: "start/dateTime desc, subject". */
export function parseOrderBy(text: string): { path: string[]; desc: boolean }[] {
  return text.split(',').map((part) => {
    const [p, dir, extra] = part.trim().split(/\s+/);
    if (!p || extra !== undefined || (dir !== undefined && !/^(asc|desc)$/i.test(dir))) throw new GraphError(400, 'BadRequest', `Invalid $orderby clause '${part.trim()}'.`);
    return { path: p.split('/'), desc: dir?.toLowerCase() === 'desc' };
  });
}

/** Reads a property path from a Graph JSON view (case-insensitive segment names). */
export function readPath(item: unknown, path: string[]): unknown {
  return resolvePath(path, { root: item, vars: new Map() });
}
