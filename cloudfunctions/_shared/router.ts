/**
 * A small typed action router. Each function is `{ action: input schema + auth, handler }`:
 * the event is checked, the input parsed by its schema (unknown keys and wrong types rejected, so
 * `{"$ne": null}` never reaches a query), identity taken from the platform context only, and every
 * failure returned as a typed error object. Nothing is written before validation passes.
 */
import type * as z from 'zod/v4'
import { wxContext } from './cloud'
import type { ActionSchemas, Auth, ErrorBody, ErrorCode, InputIssue, Result } from './contract'

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'AppError'
  }
}

export interface UserContext {
  openid: string
  appid?: string
  unionid?: string
  source?: string
}

export interface PublicContext {
  openid?: string
  appid?: string
  unionid?: string
  source?: string
}

type ContextFor<A extends Auth> = A extends 'user' ? UserContext : PublicContext

export type Handlers<S extends ActionSchemas, O extends { [K in keyof S]: unknown }> = {
  [K in keyof S]: (input: z.output<S[K]['input']>, ctx: ContextFor<S[K]['auth']>) => Promise<O[K]>
}

export type Main = (event: unknown, context?: unknown) => Promise<Result<unknown>>

function fail(code: ErrorCode, message: string, issues?: InputIssue[]): Result<never> {
  const error: ErrorBody = issues ? { code, message, issues } : { code, message }
  return { ok: false, error }
}

function issuesOf(error: z.ZodError): InputIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }))
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export interface RouterOptions<S extends ActionSchemas> {
  /** Timer triggers (config.json `triggers[].name`) and the action each one runs, with empty data. */
  timers?: Record<string, keyof S & string>
}

/** A timer trigger's event, as the platform sends it: `{ Type: 'Timer', TriggerName, Time }`. */
function timerAction(event: Record<string, unknown>, timers: Record<string, string>): string | undefined {
  if (event.Type !== 'Timer' || typeof event.TriggerName !== 'string') return undefined
  return timers[event.TriggerName]
}

export function createRouter<S extends ActionSchemas, O extends { [K in keyof S]: unknown }>(
  schemas: S,
  handlers: Handlers<S, O>,
  options: RouterOptions<S> = {},
): Main {
  return async function main(event: unknown): Promise<Result<unknown>> {
    const timed = isRecord(event) ? timerAction(event, options.timers ?? {}) : undefined
    if (timed && isRecord(event)) event = { action: timed, data: {} }
    if (!isRecord(event) || typeof event.action !== 'string') {
      return fail('INVALID_REQUEST', 'Expected an event of the form { action: string, data?: object }.')
    }
    const name = event.action
    if (!Object.prototype.hasOwnProperty.call(schemas, name)) {
      return fail('UNKNOWN_ACTION', `Unknown action "${name.slice(0, 64)}". Valid actions: ${Object.keys(schemas).join(', ')}.`)
    }
    const schema = schemas[name] as S[keyof S]
    const parsed = schema.input.safeParse(event.data ?? {})
    if (!parsed.success) {
      return fail('INVALID_INPUT', `Invalid input for "${name}".`, issuesOf(parsed.error))
    }
    const who = wxContext()
    if (schema.auth === 'user' && !who.openid) {
      return fail('UNAUTHENTICATED', 'This action needs a WeChat user (no OPENID in the call context).')
    }
    const ctx: PublicContext = { openid: who.openid, appid: who.appid, unionid: who.unionid, source: who.source }
    const handler = handlers[name as keyof S] as (input: unknown, ctx: PublicContext) => Promise<unknown>
    try {
      return { ok: true, data: await handler(parsed.data, ctx) }
    } catch (err) {
      if (err instanceof AppError) return fail(err.code, err.message)
      // Unexpected: log the detail for the cloud console, return nothing internal to the client.
      console.error(`[${name}] unexpected error`, err)
      return fail('INTERNAL', 'Something went wrong on our side. Please try again.')
    }
  }
}
