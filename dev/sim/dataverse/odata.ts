// The OData subset the product uses (PAD webapi/query-data-web-api.md): $select, $filter (comparison, logical,
// parentheses, null, GUID/datetime/string/number literals, lookup `_x_value`, contains/startswith/endswith, and
// `any` over an activity's party collection), $expand of party collections with nested $select/$filter, $orderby, $top.
import { badQuery, DataverseError, ErrorCodes } from './errors.js';
import { activityByPartyNav, entityByLogicalName, type Column, type EntityDef } from './schema.js';
import { isLookup, text, type Row, type Value } from './store.js';
import { formatDateTime } from './values.js';

type Literal =
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'null' }
  | { t: 'guid'; v: string }
  | { t: 'datetime'; v: number; raw: string; text: string }
  | { t: 'date'; v: string };

export type FilterNode =
  | { k: 'lit'; lit: Literal }
  | { k: 'prop'; column: Column; scope: string | undefined }
  | { k: 'cmp'; op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'; l: FilterNode; r: FilterNode }
  | { k: 'and' | 'or'; l: FilterNode; r: FilterNode }
  | { k: 'not'; e: FilterNode }
  | { k: 'any'; nav: string; variable: string; body: FilterNode }
  | { k: 'fn'; name: 'contains' | 'startswith' | 'endswith'; args: FilterNode[] };

type Token = { t: 'ident'; v: string } | { t: 'lit'; lit: Literal } | { t: 'punct'; v: string };

const GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}(?![\d:T])/;
const NUMBER_RE = /^-?\d+(\.\d+)?([eE][+-]?\d+)?[mMdDfFlL]?/;
const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_.]*/;

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++;
      continue;
    }
    const rest = input.slice(i);
    if (ch === "'") {
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= input.length) throw badQuery(`Syntax error: unterminated string literal at position ${i} in '${input}'.`);
        if (input[j] === "'") {
          if (input[j + 1] === "'") {
            text += "'";
            j += 2;
            continue;
          }
          break;
        }
        text += input[j];
        j++;
      }
      tokens.push({ t: 'lit', lit: { t: 'string', v: text } });
      i = j + 1;
      continue;
    }
    if ('(),/:'.includes(ch)) {
      tokens.push({ t: 'punct', v: ch });
      i++;
      continue;
    }
    let m = GUID_RE.exec(rest);
    if (m) {
      tokens.push({ t: 'lit', lit: { t: 'guid', v: m[0].toLowerCase() } });
      i += m[0].length;
      continue;
    }
    m = DATETIME_RE.exec(rest);
    if (m) {
      const ms = Date.parse(m[3] ? m[0] : `${m[0]}Z`);
      if (Number.isNaN(ms)) throw badQuery(`Syntax error: '${m[0]}' is not a valid datetime literal.`);
      tokens.push({ t: 'lit', lit: { t: 'datetime', v: ms, raw: m[0], text: formatDateTime(ms) } });
      i += m[0].length;
      continue;
    }
    m = DATE_RE.exec(rest);
    if (m) {
      tokens.push({ t: 'lit', lit: { t: 'date', v: m[0] } });
      i += m[0].length;
      continue;
    }
    m = NUMBER_RE.exec(rest);
    if (m) {
      tokens.push({ t: 'lit', lit: { t: 'number', v: Number(m[0].replace(/[mMdDfFlL]$/, '')) } });
      i += m[0].length;
      continue;
    }
    m = IDENT_RE.exec(rest);
    if (m) {
      const word = m[0];
      if (word === 'true' || word === 'false') tokens.push({ t: 'lit', lit: { t: 'bool', v: word === 'true' } });
      else if (word === 'null') tokens.push({ t: 'lit', lit: { t: 'null' } });
      else tokens.push({ t: 'ident', v: word });
      i += word.length;
      continue;
    }
    throw badQuery(`Syntax error at position ${i} in '${input}'.`);
  }
  return tokens;
}

const COMPARISONS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

/** Resolves a property name as used in queries (`subject`, `_ownerid_value`) to its column. */
export function resolveColumn(def: EntityDef, name: string): Column {
  const lookupMatch = /^_(.+)_value$/.exec(name);
  if (lookupMatch) {
    const c = def.columns.get(lookupMatch[1]!);
    if (c && c.type === 'lookup') return c;
  } else {
    const c = def.columns.get(name);
    if (c && c.type !== 'lookup' && !c.writeOnly) return c;
  }
  throw new DataverseError(400, ErrorCodes.ODataResourceNotFound, `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${def.logicalName}'.`);
}

class FilterParser {
  private pos = 0;
  private readonly scopes = new Map<string, EntityDef>();

  constructor(
    private readonly tokens: Token[],
    private readonly def: EntityDef,
    private readonly source: string,
  ) {}

  parse(): FilterNode {
    const node = this.or();
    if (this.pos < this.tokens.length) throw this.error('unexpected trailing input');
    return node;
  }

  private error(what: string): DataverseError {
    return badQuery(`Syntax error in $filter '${this.source}': ${what}.`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private isWord(word: string): boolean {
    const t = this.peek();
    return t?.t === 'ident' && t.v === word;
  }

  private isPunct(p: string): boolean {
    const t = this.peek();
    return t?.t === 'punct' && t.v === p;
  }

  private expectPunct(p: string): void {
    if (!this.isPunct(p)) throw this.error(`expected '${p}'`);
    this.pos++;
  }

  private or(): FilterNode {
    let l = this.and();
    while (this.isWord('or')) {
      this.pos++;
      l = { k: 'or', l, r: this.and() };
    }
    return l;
  }

  private and(): FilterNode {
    let l = this.not();
    while (this.isWord('and')) {
      this.pos++;
      l = { k: 'and', l, r: this.not() };
    }
    return l;
  }

  private not(): FilterNode {
    if (this.isWord('not')) {
      this.pos++;
      return { k: 'not', e: this.not() };
    }
    return this.comparison();
  }

  private comparison(): FilterNode {
    const l = this.primary();
    const t = this.peek();
    if (t?.t === 'ident' && COMPARISONS.has(t.v)) {
      this.pos++;
      const r = this.primary();
      return { k: 'cmp', op: t.v as 'eq', l, r };
    }
    return l;
  }

  private primary(): FilterNode {
    const t = this.peek();
    if (!t) throw this.error('unexpected end of expression');
    if (t.t === 'punct' && t.v === '(') {
      this.pos++;
      const e = this.or();
      this.expectPunct(')');
      return e;
    }
    if (t.t === 'lit') {
      this.pos++;
      return { k: 'lit', lit: t.lit };
    }
    if (t.t !== 'ident') throw this.error(`unexpected '${t.v}'`);
    this.pos++;
    const name = t.v;
    if ((name === 'contains' || name === 'startswith' || name === 'endswith') && this.isPunct('(')) {
      this.pos++;
      const args = [this.or()];
      while (this.isPunct(',')) {
        this.pos++;
        args.push(this.or());
      }
      this.expectPunct(')');
      if (args.length !== 2) throw this.error(`${name} takes two arguments`);
      return { k: 'fn', name, args };
    }
    // A lambda variable: `p/_partyid_value`.
    const scopeDef = this.scopes.get(name);
    if (scopeDef) {
      this.expectPunct('/');
      const prop = this.peek();
      if (prop?.t !== 'ident') throw this.error(`expected a property after '${name}/'`);
      this.pos++;
      return { k: 'prop', column: resolveColumn(scopeDef, prop.v), scope: name };
    }
    if (this.isPunct('/')) {
      // `<party nav>/any(p: ...)`
      const nav = activityByPartyNav.get(name);
      if (!nav || nav.logicalName !== this.def.logicalName) {
        throw new DataverseError(400, ErrorCodes.ODataResourceNotFound, `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${this.def.logicalName}'.`);
      }
      this.pos++;
      if (!this.isWord('any')) throw this.error(`only the 'any' lambda operator is supported on '${name}'`);
      this.pos++;
      this.expectPunct('(');
      const v = this.peek();
      if (v?.t !== 'ident') throw this.error('expected a lambda variable');
      this.pos++;
      this.expectPunct(':');
      this.scopes.set(v.v, entityByLogicalName.get('activityparty')!);
      const body = this.or();
      this.scopes.delete(v.v);
      this.expectPunct(')');
      return { k: 'any', nav: name, variable: v.v, body };
    }
    return { k: 'prop', column: resolveColumn(this.def, name), scope: undefined };
  }
}

/** Parses a $filter expression against a table. */
export function parseFilter(def: EntityDef, text: string): FilterNode {
  return new FilterParser(tokenize(text), def, text).parse();
}

export interface EvalContext {
  /** The party rows of an activity (for `any`). */
  parties(activityId: string): Row[];
}

type Scalar = string | number | boolean | null;

function propValue(column: Column, v: Value | undefined): Scalar {
  if (v === undefined || v === null) return null;
  if (isLookup(v)) return v.id.toLowerCase();
  // Stored date-times share one fixed format (values.ts formatDateTime), so they compare as strings.
  if (column.type === 'datetime' && typeof v === 'string') return v;
  if (column.type === 'guid' && typeof v === 'string') return v.toLowerCase();
  return v;
}

function literalValue(lit: Literal): Scalar {
  switch (lit.t) {
    case 'null':
      return null;
    case 'datetime':
      return lit.text;
    default:
      return lit.v;
  }
}

function compare(op: string, a: Scalar, b: Scalar): boolean {
  if (a === null || b === null) {
    if (op === 'eq') return a === b;
    if (op === 'ne') return a !== b;
    return false;
  }
  let x: string | number | boolean = a;
  let y: string | number | boolean = b;
  if (typeof x === 'string' && typeof y === 'string') {
    if (op === 'eq' || op === 'ne') return (x === y || x.toLowerCase() === y.toLowerCase()) === (op === 'eq');
    x = x.toLowerCase();
    y = y.toLowerCase();
  }
  switch (op) {
    case 'eq':
      return x === y;
    case 'ne':
      return x !== y;
    case 'gt':
      return x > y;
    case 'ge':
      return x >= y;
    case 'lt':
      return x < y;
    case 'le':
      return x <= y;
  }
  return false;
}

function evalScalar(node: FilterNode, row: Row, scopes: Map<string, Row>, ctx: EvalContext): Scalar {
  switch (node.k) {
    case 'lit':
      return literalValue(node.lit);
    case 'prop': {
      const source = node.scope ? scopes.get(node.scope) : row;
      return propValue(node.column, source?.[node.column.name]);
    }
    default:
      return evalBool(node, row, scopes, ctx);
  }
}

function evalBool(node: FilterNode, row: Row, scopes: Map<string, Row>, ctx: EvalContext): boolean {
  switch (node.k) {
    case 'and':
      return evalBool(node.l, row, scopes, ctx) && evalBool(node.r, row, scopes, ctx);
    case 'or':
      return evalBool(node.l, row, scopes, ctx) || evalBool(node.r, row, scopes, ctx);
    case 'not':
      return !evalBool(node.e, row, scopes, ctx);
    case 'cmp':
      return compare(node.op, evalScalar(node.l, row, scopes, ctx), evalScalar(node.r, row, scopes, ctx));
    case 'fn': {
      const a = evalScalar(node.args[0]!, row, scopes, ctx);
      const b = evalScalar(node.args[1]!, row, scopes, ctx);
      if (typeof a !== 'string' || typeof b !== 'string') return false;
      const x = a.toLowerCase();
      const y = b.toLowerCase();
      return node.name === 'contains' ? x.includes(y) : node.name === 'startswith' ? x.startsWith(y) : x.endsWith(y);
    }
    case 'any': {
      const activityId = text(row['activityid']);
      for (const party of ctx.parties(activityId)) {
        scopes.set(node.variable, party);
        const ok = evalBool(node.body, row, scopes, ctx);
        scopes.delete(node.variable);
        if (ok) return true;
      }
      return false;
    }
    case 'lit':
      return node.lit.t === 'bool' && node.lit.v;
    case 'prop':
      return evalScalar(node, row, scopes, ctx) === true;
  }
}

/** True when the row satisfies the filter. */
export function matches(node: FilterNode, row: Row, ctx: EvalContext): boolean {
  return evalBool(node, row, new Map(), ctx);
}

/** Top-level AND conjuncts of a filter (for index planning). */
export function conjuncts(node: FilterNode): FilterNode[] {
  if (node.k === 'and') return [...conjuncts(node.l), ...conjuncts(node.r)];
  return [node];
}

/** `column eq literal` as [column, literal value] when the node has that shape. */
export function equalityOf(node: FilterNode): { column: Column; scope: string | undefined; value: Scalar } | undefined {
  if (node.k !== 'cmp' || node.op !== 'eq') return undefined;
  if (node.l.k === 'prop' && node.r.k === 'lit') return { column: node.l.column, scope: node.l.scope, value: literalValue(node.r.lit) };
  if (node.r.k === 'prop' && node.l.k === 'lit') return { column: node.r.column, scope: node.r.scope, value: literalValue(node.l.lit) };
  return undefined;
}

export interface OrderBy {
  column: Column;
  desc: boolean;
}

/** Parses $orderby. */
export function parseOrderBy(def: EntityDef, text: string): OrderBy[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const [name, dir, extra] = part.split(/\s+/);
      if (extra !== undefined || (dir !== undefined && dir !== 'asc' && dir !== 'desc')) throw badQuery(`Syntax error in $orderby '${text}'.`);
      return { column: resolveColumn(def, name!), desc: dir === 'desc' };
    });
}

/** Sorts rows in place by $orderby; nulls sort first ascending, as SQL Server does. */
export function sortRows(rows: Row[], order: OrderBy[]): void {
  if (!order.length) return;
  rows.sort((ra, rb) => {
    for (const o of order) {
      const a = propValue(o.column, ra[o.column.name]);
      const b = propValue(o.column, rb[o.column.name]);
      if (a === b) continue;
      let c: number;
      if (a === null) c = -1;
      else if (b === null) c = 1;
      else if (typeof a === 'string' && typeof b === 'string') c = a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0;
      else c = a < b ? -1 : a > b ? 1 : 0;
      if (c !== 0) return o.desc ? -c : c;
    }
    return 0;
  });
}

/** Parses $select into the columns to return (primary key always included). */
export function parseSelect(def: EntityDef, text: string | null): Column[] | undefined {
  if (text === null) return undefined;
  const names = text.split(',').map((n) => n.trim()).filter(Boolean);
  if (!names.length) throw badQuery('$select must name at least one column.');
  return names.map((n) => resolveColumn(def, n));
}

export interface ExpandParties {
  nav: string;
  select: Column[] | undefined;
  filter: FilterNode | undefined;
}

/** Splits on a separator at parenthesis depth 0. */
function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "'") inString = !inString;
    if (inString) continue;
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === sep && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter(Boolean);
}

/** Parses $expand; only an activity's party collection can be expanded. */
export function parseExpand(def: EntityDef, text: string | null): ExpandParties[] {
  if (text === null) return [];
  const partyDef = entityByLogicalName.get('activityparty')!;
  return splitTopLevel(text, ',').map((item) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$/s.exec(item);
    if (!m) throw badQuery(`Syntax error in $expand '${text}'.`);
    const nav = m[1]!;
    if (def.activity?.partyNav !== nav) {
      throw new DataverseError(400, ErrorCodes.ODataResourceNotFound, `Could not find a property named '${nav}' on type 'Microsoft.Dynamics.CRM.${def.logicalName}' (the simulator expands only activity party collections).`);
    }
    let select: Column[] | undefined;
    let filter: FilterNode | undefined;
    for (const opt of m[2] ? splitTopLevel(m[2], ';') : []) {
      const eq = opt.indexOf('=');
      const key = opt.slice(0, eq).trim();
      const value = opt.slice(eq + 1);
      if (key === '$select') select = parseSelect(partyDef, value);
      else if (key === '$filter') filter = parseFilter(partyDef, value);
      else throw badQuery(`The query option '${key}' is not supported inside $expand by the simulator.`);
    }
    return { nav, select, filter };
  });
}
