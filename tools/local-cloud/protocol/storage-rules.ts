/**
 * Cloud storage security rules, evaluated as the cloud evaluates them for clients (the server SDK is
 * never subject to them): `{ read, write }`, each `true`, `false` or an expression over
 * `auth` (`{ openid }`, null for a caller without one) and `resource` (`{ openid, path }`: the file's
 * owner — its uploader; the caller for a file being created — and its path in the bucket).
 *
 * The expression language is the documented subset WeChat's and CloudBase's pages show: `==`, `!=`,
 * `&&`, `||`, `!`, parentheses, `true`/`false`/`null`, string literals, dotted names, and a regular
 * expression literal's `.test(value)` (compared with `== true`, as the documentation asks). Anything
 * else is a syntax error; an error while evaluating (a field of null) denies, as the cloud does.
 */
import type { SecurityRule } from '../../../cloudfunctions/_shared/collections'

export interface RuleContext {
  auth: { openid: string } | null
  resource: { openid: string; path: string }
}

type Node =
  | { kind: 'literal'; value: string | boolean | null }
  | { kind: 'name'; path: string[] }
  | { kind: 'test'; regex: RegExp; arg: Node }
  | { kind: 'not'; arg: Node }
  | { kind: 'binary'; op: '==' | '!=' | '&&' | '||'; left: Node; right: Node }

class RuleSyntaxError extends Error {}

function parse(text: string): Node {
  let i = 0
  const space = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++
  }
  const eat = (token: string): boolean => {
    space()
    if (text.startsWith(token, i)) {
      i += token.length
      return true
    }
    return false
  }
  const fail = (what: string): never => {
    throw new RuleSyntaxError(`${what} at ${i} in rule "${text}"`)
  }

  const primary = (): Node => {
    space()
    if (eat('(')) {
      const inner = or()
      if (!eat(')')) fail('expected ")"')
      return inner
    }
    const c = text[i]
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1)
      if (end < 0) fail('unterminated string')
      const value = text.slice(i + 1, end)
      i = end + 1
      return { kind: 'literal', value }
    }
    if (c === '/') {
      let j = i + 1
      let inClass = false
      while (j < text.length && (text[j] !== '/' || inClass)) {
        if (text[j] === '\\') j++
        else if (text[j] === '[') inClass = true
        else if (text[j] === ']') inClass = false
        j++
      }
      if (j >= text.length) fail('unterminated regular expression')
      const source = text.slice(i + 1, j)
      i = j + 1
      const flags = /^[gimsuy]*/.exec(text.slice(i))![0]
      i += flags.length
      if (!eat('.test(')) fail('a regular expression is only used as /…/.test(value)')
      const arg = or()
      if (!eat(')')) fail('expected ")"')
      return { kind: 'test', regex: new RegExp(source, flags), arg }
    }
    const word = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*/.exec(text.slice(i))?.[0]
    if (!word) return fail('expected a value')
    i += word.length
    if (word === 'true' || word === 'false') return { kind: 'literal', value: word === 'true' }
    if (word === 'null') return { kind: 'literal', value: null }
    return { kind: 'name', path: word.split('.') }
  }
  const unary = (): Node => (eat('!') && !text.startsWith('=', i) ? { kind: 'not', arg: unary() } : comparison())
  const comparison = (): Node => {
    const left = primary()
    if (eat('==')) return { kind: 'binary', op: '==', left, right: primary() }
    if (eat('!=')) return { kind: 'binary', op: '!=', left, right: primary() }
    return left
  }
  const and = (): Node => {
    let left = unary()
    while (eat('&&')) left = { kind: 'binary', op: '&&', left, right: unary() }
    return left
  }
  const or = (): Node => {
    let left = and()
    while (eat('||')) left = { kind: 'binary', op: '||', left, right: and() }
    return left
  }

  const node = or()
  space()
  if (i < text.length) fail('unexpected text')
  return node
}

class RuleEvaluationError extends Error {}

function evaluate(node: Node, ctx: RuleContext): unknown {
  switch (node.kind) {
    case 'literal':
      return node.value
    case 'name': {
      let value: unknown = ctx
      for (const key of node.path) {
        if (value === null || typeof value !== 'object') throw new RuleEvaluationError(`${node.path.join('.')}: ${key} of ${String(value)}`)
        value = (value as Record<string, unknown>)[key]
      }
      return value === undefined ? null : value
    }
    case 'test': {
      const value = evaluate(node.arg, ctx)
      return typeof value === 'string' && node.regex.test(value)
    }
    case 'not':
      return evaluate(node.arg, ctx) !== true
    case 'binary':
      switch (node.op) {
        case '==':
          return evaluate(node.left, ctx) === evaluate(node.right, ctx)
        case '!=':
          return evaluate(node.left, ctx) !== evaluate(node.right, ctx)
        case '&&':
          return evaluate(node.left, ctx) === true && evaluate(node.right, ctx) === true
        case '||':
          return evaluate(node.left, ctx) === true || evaluate(node.right, ctx) === true
      }
  }
}

/** Checks a rule's syntax (throws with the position of the problem). */
export function checkRule(rule: SecurityRule): void {
  for (const part of [rule.read, rule.write]) if (typeof part === 'string') parse(part)
}

/** Whether the rule lets `op` through for this caller and file. */
export function allows(rule: SecurityRule, op: 'read' | 'write', ctx: RuleContext): boolean {
  const expression = rule[op]
  if (typeof expression === 'boolean') return expression
  try {
    return evaluate(parse(expression), ctx) === true
  } catch (err) {
    if (err instanceof RuleEvaluationError) return false
    throw err
  }
}
