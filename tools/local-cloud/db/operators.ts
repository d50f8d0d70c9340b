/**
 * The operator set the local cloud's queries and aggregations run with: mingo's operators, the geo
 * operators mingo lacks (geo.ts), and replacements where mingo differs from MongoDB as the cloud
 * database documents it. Each replacement is pinned by a conformance test (test/cloud/db-*).
 *
 * mingo's own entry point merges a given context *under* its defaults (a default always wins), so
 * the store builds this whole context itself and uses mingo's core Query and Aggregator with it.
 */
import { Validator, type Schema } from 'jsonschema'
import { Context, evalExpr } from 'mingo/core'
import * as accumulatorOperators from 'mingo/operators/accumulator'
import * as expressionOperators from 'mingo/operators/expression'
import * as pipelineOperators from 'mingo/operators/pipeline'
import * as projectionOperators from 'mingo/operators/projection'
import * as queryOperators from 'mingo/operators/query'
import * as windowOperators from 'mingo/operators/window'
import { Query } from 'mingo/query'
import type { Options } from 'mingo/types'
import { isObject, isOperator, resolve } from 'mingo/util'
import { geoQueryOperators } from './geo'

type Any = unknown
type QueryOperator = (selector: string, value: Any, options: Options) => (obj: Any) => boolean
type ExpressionOperator = (obj: Any, expr: Any, options: Options) => Any

const mingoExpressions = expressionOperators as unknown as Record<string, ExpressionOperator>
const mingoQueries = queryOperators as unknown as Record<string, QueryOperator>

/**
 * `$elemMatch` with field conditions (`{ value: { $gt: 0 } }`) matches embedded documents only:
 * MongoDB never matches `[1, 2, 3]` with it (mingo tests each number as a document). Conditions on
 * the elements themselves (`{ $gt: 0 }`) keep mingo's behaviour.
 */
const $elemMatch: QueryOperator = (selector, criteria, options) => {
  const fields = isObject(criteria) && Object.keys(criteria).some((k) => !isOperator(k) || k === '$and' || k === '$or' || k === '$nor')
  if (!fields) return mingoQueries.$elemMatch!(selector, criteria, options)
  const query = new Query(criteria as Record<string, Any>, options)
  return (obj) => {
    const value = resolve(obj as never, selector, { unwrapArray: true })
    return Array.isArray(value) && value.some((item) => isObject(item) && query.test(item))
  }
}

/**
 * `$week`: weeks start on Sunday and the year's first Sunday begins week 1 (strftime's `%U`), as
 * MongoDB and the cloud document it (2019-05-14 is week 19). mingo counts ISO-like weeks.
 * Built from mingo's `$dayOfYear` and `$dayOfWeek`, so `{ date, timezone }` works the same way.
 */
const $week: ExpressionOperator = (obj, expr, options) => {
  const dayOfYear = mingoExpressions.$dayOfYear!(obj, expr, options) as number // 1..366
  const dayOfWeek = mingoExpressions.$dayOfWeek!(obj, expr, options) as number // 1 = Sunday
  return Math.floor((dayOfYear - 1 + 7 - (dayOfWeek - 1)) / 7)
}

/**
 * `$substrBytes` (and its alias `$substr`): a negative start gives "", a negative length means
 * "to the end of the string" (documented by the cloud and MongoDB; mingo refuses both).
 */
const $substrBytes: ExpressionOperator = (obj, expr, options) => {
  if (!Array.isArray(expr) || expr.length !== 3) return mingoExpressions.$substrBytes!(obj, expr, options)
  const [s, start, length] = evalExpr(obj, expr, options) as [Any, Any, Any]
  if (typeof start === 'number' && start < 0) return ''
  const count = typeof s === 'string' && typeof start === 'number' && typeof length === 'number' && length < 0 ? Math.max(0, Buffer.byteLength(s, 'utf8') - start) : length
  return mingoExpressions.$substrBytes!(obj, [{ $literal: s }, { $literal: start }, { $literal: count }], options)
}

/** `$indexOfCP`: the code-point index of a substring (`[string, substring, start?, end?]`), or -1. */
const $indexOfCP: ExpressionOperator = (obj, expr, options) => {
  if (!Array.isArray(expr) || expr.length < 2 || expr.length > 4) throw new Error('$indexOfCP needs [string, substring, start?, end?]')
  const [s, search, start = 0, end] = evalExpr(obj, expr, options) as Any[]
  if (s === null || s === undefined) return null
  if (typeof s !== 'string') throw new Error('$indexOfCP requires a string as the first argument')
  if (typeof search !== 'string') throw new Error('$indexOfCP requires a string as the second argument')
  const points = [...s]
  const to = end ?? points.length
  if (!Number.isInteger(start) || (start as number) < 0 || !Number.isInteger(to) || (to as number) < 0) {
    throw new Error('$indexOfCP start and end must be non-negative integers')
  }
  if ((start as number) > (to as number)) return -1
  const window = points.slice(start as number, to as number)
  const at = window.join('').indexOf(search)
  return at < 0 ? -1 : (start as number) + [...window.join('').slice(0, at)].length
}

/**
 * `$jsonSchema` checks documents against MongoDB's JSON Schema dialect: draft 4 plus `bsonType`.
 * jsonschema validates draft 4; `bsonType` is added as a keyword over the values documents hold
 * here (Dates, RegExps, numbers).
 */
const BSON_TYPES: Record<string, (v: Any) => boolean> = {
  double: (v) => typeof v === 'number',
  number: (v) => typeof v === 'number',
  int: (v) => Number.isInteger(v),
  long: (v) => Number.isInteger(v),
  decimal: (v) => typeof v === 'number',
  string: (v) => typeof v === 'string',
  object: (v) => isObject(v),
  array: (v) => Array.isArray(v),
  bool: (v) => typeof v === 'boolean',
  date: (v) => v instanceof Date,
  null: (v) => v === null,
  regex: (v) => v instanceof RegExp,
  objectId: (v) => typeof v === 'string' && /^[0-9a-f]{24}$/.test(v),
}

function jsonSchemaValidator(schema: Record<string, Any>): (obj: Any) => boolean {
  const validator = new Validator()
  validator.attributes.bsonType = (instance: Any, spec: Schema) => {
    const wanted = (spec as { bsonType?: unknown }).bsonType
    const names = (Array.isArray(wanted) ? wanted : [wanted]) as string[]
    // jsonschema reads an empty string as "valid".
    if (instance === undefined) return ''
    return names.some((name) => BSON_TYPES[name]?.(instance)) ? '' : `is not of bsonType ${names.join(', ')}`
  }
  return (obj) => validator.validate(obj, schema as Schema).valid
}

let context: Context | undefined

/** All of mingo's operators, the geo operators, and the replacements above. */
export function cloudContext(): Context {
  context ??= Context.init({
    accumulator: accumulatorOperators as never,
    expression: { ...expressionOperators, $week, $substr: $substrBytes, $substrBytes, $indexOfCP } as never,
    pipeline: pipelineOperators as never,
    projection: projectionOperators as never,
    query: { ...queryOperators, ...geoQueryOperators, $elemMatch } as never,
    window: windowOperators as never,
  })
  return context
}

/** Query options for mingo: the context above and the `$jsonSchema` validator. */
export function cloudQueryOptions(): Partial<Options> {
  return { idKey: '_id', useStrictMode: true, context: cloudContext(), jsonSchemaValidator: jsonSchemaValidator as never }
}
