/**
 * Query planning for the document store: which declared index narrows a query's candidates, and
 * the SQL that reads them. Candidates only have to be a superset of the matches, because mingo
 * still filters every one; so each rule here only has to make sure no matching document is missed.
 *
 * Each declared index gets a "typed" SQLite expression index (`ixt_*`) whose keys order like
 * mingo compares values of one type:
 *  - strings are TEXT (binary, i.e. code point order),
 *  - numbers are REAL (an integer literal beyond 2^53 read as INTEGER would differ from the
 *    JavaScript double that mingo sees), booleans 1/0, Dates their epoch milliseconds,
 *  - null and missing are NULL,
 *  - anything a comparison with a scalar cannot be read from (an array anywhere on the path, an
 *    object, NaN and ±Infinity, which the codec stores as objects, a date SQLite cannot parse) is
 *    SENTINEL, a BLOB that every indexed read also takes, so mingo decides about those documents.
 * SQLite orders NULL < numbers < TEXT < BLOB, which brackets each type into its own key range.
 */
import type { Doc } from './codec'

export interface IndexDef {
  name: string
  keys: Readonly<Record<string, 1 | -1>>
  unique?: boolean
}

/** Index key value of documents that must always be read (see above). */
const SENTINEL = "X'00'"

/** A SQL string literal. */
function sqlText(text: string): string {
  return `'${text.replace(/'/g, "''")}'`
}

/** JSON path of a dotted field, each part quoted, e.g. `$."a"."b"`. */
export function jsonPath(parts: readonly string[]): string {
  return '$.' + parts.map((p) => `"${p.replace(/"/g, '')}"`).join('.')
}

/** SQL name of an index, from its collection and declared name. */
export function indexSqlName(prefix: 'ix' | 'ixt', collection: string, index: IndexDef): string {
  return `"${prefix}_${collection}_${index.name.replace(/[^A-Za-z0-9_-]/g, '_')}"`
}

/** Milliseconds of a date the codec stored as `{"$date": ...}`, or SENTINEL. */
function dateExpr(parts: readonly string[]): string {
  const value = sqlText(jsonPath(parts))
  const date = sqlText(jsonPath([...parts, '$date']))
  const long = sqlText(jsonPath([...parts, '$date', '$numberLong']))
  const digits = (n: number) => '[0-9]'.repeat(n)
  const isoGlob = `${digits(4)}-${digits(2)}-${digits(2)}T${digits(2)}:${digits(2)}:${digits(2)}`
  // Only the exact forms bson writes: an ISO string ending in Z (without the Z SQLite would read
  // UTC where JavaScript reads local time), or {"$numberLong": "<integer>"} (dates before 1970).
  return [
    'CASE',
    // Any other key next to $date (or none) and it is not a date to the codec.
    `WHEN (doc -> ${value}) IS NOT ('{"$date":' || (doc -> ${date}) || '}') THEN ${SENTINEL}`,
    `WHEN json_type(doc, ${date}) = 'text' AND ((doc ->> ${date}) GLOB '${isoGlob}Z' OR (doc ->> ${date}) GLOB '${isoGlob}.${digits(3)}Z')`,
    `THEN coalesce(round(unixepoch(doc ->> ${date}, 'subsec') * 1000), ${SENTINEL})`,
    `WHEN json_type(doc, ${long}) = 'text' AND (doc -> ${date}) = ('{"$numberLong":' || (doc -> ${long}) || '}')`,
    `AND CAST(CAST(doc ->> ${long} AS INTEGER) AS TEXT) = (doc ->> ${long})`,
    `AND abs(CAST(doc ->> ${long} AS INTEGER)) <= 8640000000000000`,
    `THEN CAST(doc ->> ${long} AS REAL)`,
    `ELSE ${SENTINEL} END`,
  ].join(' ')
}

/** Whether SQLite's JSON path names a key exactly (its quoted labels have no escapes). */
function pathable(field: string): boolean {
  return field === '_id' || field.split('.').every((part) => part.length > 0 && !/["\\\u0000-\u001f]/.test(part))
}

/** The typed index expression of one key (must be textually identical in indexes and queries). */
export function typedKeyExpr(field: string): string {
  if (field === '_id') return '_id'
  const parts = field.split('.')
  const path = sqlText(jsonPath(parts))
  const value = [
    `CASE json_type(doc, ${path})`,
    `WHEN 'array' THEN ${SENTINEL}`,
    `WHEN 'object' THEN (${dateExpr(parts)})`,
    `WHEN 'integer' THEN CAST(doc ->> ${path} AS REAL)`,
    `ELSE doc ->> ${path} END`,
  ].join(' ')
  // mingo walks through arrays on the way (`a.b` of {a: [{b: 1}]} is 1); SQLite's path does not.
  const arrays = parts.slice(0, -1).map((_, i) => `json_type(doc, ${sqlText(jsonPath(parts.slice(0, i + 1)))}) = 'array'`)
  return arrays.length > 0 ? `(CASE WHEN ${arrays.join(' OR ')} THEN ${SENTINEL} ELSE (${value}) END)` : `(${value})`
}

/** `CREATE INDEX` statement of the typed index (as sqlite_master stores it, to detect changes). */
export function typedIndexSql(collection: string, index: IndexDef, table: string): string {
  const exprs = Object.keys(index.keys).map(typedKeyExpr)
  return `CREATE INDEX ${indexSqlName('ixt', collection, index)} ON ${table} (${exprs.join(', ')})`
}

// ---- constraints ------------------------------------------------------------------------------

/** A scalar as its typed index key. */
type Key = string | number

interface Bounds {
  lo?: Key
  hi?: Key
}

/** What a query demands of one field, as far as an index can tell. */
interface FieldConstraint {
  /** The value's key is one of these (or the document is a SENTINEL one). */
  eq?: Key[]
  number?: Bounds
  text?: Bounds
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/** Key of a value an equality can be answered with, undefined when it cannot (null, RegExp, objects...). */
function eqKey(value: unknown): Key | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value === 'boolean') return value ? 1 : 0
  if (value instanceof Date) {
    const ms = value.getTime()
    return Number.isFinite(ms) ? ms : undefined
  }
  return undefined
}

/**
 * Bound for a string range. JavaScript (mingo) orders strings by UTF-16 code unit, SQLite by code
 * point: they agree below U+D800, so a bound is cut before its first unit at or above it (a lower
 * bound becomes that prefix, an upper bound goes away).
 */
function textBound(value: string, upper: boolean): string | undefined {
  const at = value.search(/[\uD800-\uFFFF]/)
  if (at < 0) return value
  return upper ? undefined : value.slice(0, at)
}

function tighten(bounds: Bounds, lo: Key | undefined, hi: Key | undefined): void {
  if (lo !== undefined && (bounds.lo === undefined || lo > bounds.lo)) bounds.lo = lo
  if (hi !== undefined && (bounds.hi === undefined || hi < bounds.hi)) bounds.hi = hi
}

function constraintOf(value: unknown): FieldConstraint | null {
  const key = eqKey(value)
  if (key !== undefined) return { eq: [key] }
  if (!isPlainObject(value)) return null
  const ops = Object.keys(value)
  if (ops.length === 0 || !ops.every((k) => k.startsWith('$'))) return null // an embedded document
  const out: FieldConstraint = {}
  if ('$eq' in value) {
    const k = eqKey(value.$eq)
    if (k !== undefined) out.eq = [k]
  }
  if (!out.eq && Array.isArray(value.$in) && value.$in.length <= 500) {
    const keys = value.$in.map(eqKey)
    if (keys.every((k) => k !== undefined)) out.eq = [...new Set(keys as Key[])]
  }
  for (const op of ['$gt', '$gte', '$lt', '$lte']) {
    if (!(op in value)) continue
    const bound = value[op]
    const upper = op.startsWith('$l')
    if (typeof bound === 'string') {
      const b = textBound(bound, upper)
      tighten((out.text ??= {}), upper ? undefined : b, upper ? b : undefined)
    } else if ((typeof bound === 'number' && Number.isFinite(bound)) || (bound instanceof Date && Number.isFinite(bound.getTime()))) {
      const b = +bound
      tighten((out.number ??= {}), upper ? undefined : b, upper ? b : undefined)
    }
  }
  return out.eq || out.number || out.text ? out : null
}

/** Merges what two conjuncts demand of one field: either one alone is a valid superset. */
function merge(a: FieldConstraint, b: FieldConstraint): FieldConstraint {
  const out: FieldConstraint = { ...a }
  if (b.eq && (!out.eq || b.eq.length < out.eq.length)) out.eq = b.eq
  for (const kind of ['number', 'text'] as const) {
    const bounds = b[kind]
    if (bounds) tighten((out[kind] = { ...out[kind] }), bounds.lo, bounds.hi)
  }
  return out
}

/**
 * Per field, what every match must satisfy. A query is the conjunction of its entries, so skipping
 * any entry (operators an index cannot answer, `$nor`, `$expr`...) keeps the result a superset.
 */
export function fieldConstraints(query: Doc, out = new Map<string, FieldConstraint>()): Map<string, FieldConstraint> {
  for (const [field, value] of Object.entries(query)) {
    if (field === '$and' || field === '$or') {
      // Every branch of $and holds; a one-branch $or is that branch.
      if (Array.isArray(value) && (field === '$and' || value.length === 1)) {
        for (const branch of value) if (isPlainObject(branch)) fieldConstraints(branch, out)
      }
      continue
    }
    if (field.startsWith('$')) continue
    const c = constraintOf(value)
    if (!c) continue
    const prev = out.get(field)
    out.set(field, prev ? merge(prev, c) : c)
  }
  return out
}

// ---- plans ------------------------------------------------------------------------------------

export interface IndexPlan {
  index: IndexDef
  /** Index keys the read seeks on (a prefix of the index). */
  seek: string[]
  /** One SELECT per part, combined with UNION ALL; the parts never overlap. */
  parts: { where: string; params: Key[] }[]
}

function inList(expr: string, keys: Key[]): { sql: string; params: Key[] } {
  return { sql: `${expr} IN (${[...keys.map(() => '?'), SENTINEL].join(', ')})`, params: keys }
}

/** A range within one type's bracket: numbers sort below every TEXT, strings below every BLOB. */
function range(expr: string, c: FieldConstraint): { sql: string; params: Key[] } {
  const terms: string[] = []
  const params: Key[] = []
  const bounds = c.number ?? c.text ?? {}
  const text = !c.number
  if (bounds.lo !== undefined) {
    terms.push(`${expr} >= ?`)
    params.push(bounds.lo)
  } else if (text) {
    terms.push(`${expr} >= ''`)
  } // (no lower bound on numbers: NULL never satisfies a comparison)
  if (bounds.hi !== undefined) {
    terms.push(`${expr} <= ?`)
    params.push(bounds.hi)
  } else {
    terms.push(text ? `${expr} < X''` : `${expr} < ''`)
  }
  return { sql: terms.join(' AND '), params }
}

/**
 * The best declared index for a query, or null (full scan). An index is usable when its first key
 * is constrained; it seeks on equalities over a prefix of its keys, then at most one range. More
 * seek keys win, an equality beats a range, a constrained key later in the index (filtered inside
 * the index, before any document is read) counts like a range, ties go to the index declared first.
 */
export function planQuery(indexes: readonly IndexDef[], query: Doc): IndexPlan | null {
  const constraints = fieldConstraints(query)
  if (constraints.size === 0) return null
  let best: { index: IndexDef; seek: string[]; score: number } | null = null
  for (const index of indexes) {
    if (!Object.keys(index.keys).every(pathable)) continue
    const seek: string[] = []
    let score = 0
    for (const key of Object.keys(index.keys)) {
      const c = key === '_id' ? undefined : constraints.get(key)
      if (!c) break
      seek.push(key)
      score += c.eq ? 2 : 1
      if (!c.eq) break
    }
    if (score > 0) {
      for (const key of Object.keys(index.keys).slice(seek.length)) if (key !== '_id' && constraints.has(key)) score += 1
    }
    if (score > 0 && (!best || score > best.score)) best = { index, seek, score }
  }
  if (!best) return null

  const common: string[] = []
  const commonParams: Key[] = []
  const last = best.seek[best.seek.length - 1]!
  for (const key of best.seek.slice(0, -1)) {
    const t = inList(typedKeyExpr(key), constraints.get(key)!.eq!)
    common.push(t.sql)
    commonParams.push(...t.params)
  }
  // Later keys of the same index cannot seek, but filtering on them spares reading those rows.
  const filters: string[] = []
  const filterParams: Key[] = []
  for (const key of Object.keys(best.index.keys).slice(best.seek.length)) {
    const c = key === '_id' ? undefined : constraints.get(key)
    if (!c) continue
    const expr = typedKeyExpr(key)
    const t = c.eq ? inList(expr, c.eq) : range(expr, c)
    filters.push(c.eq ? t.sql : `((${t.sql}) OR ${expr} = ${SENTINEL})`)
    filterParams.push(...t.params)
  }
  const part = (sql: string, params: Key[]) => ({
    where: [...common, sql, ...filters].join(' AND '),
    params: [...commonParams, ...params, ...filterParams],
  })
  const lastExpr = typedKeyExpr(last)
  const c = constraints.get(last)!
  let parts: IndexPlan['parts']
  if (c.eq) {
    parts = [part(inList(lastExpr, c.eq).sql, c.eq)]
  } else {
    const r = range(lastExpr, c)
    parts = [part(r.sql, r.params), part(`${lastExpr} = ${SENTINEL}`, [])]
  }
  return { index: best.index, seek: best.seek, parts }
}
