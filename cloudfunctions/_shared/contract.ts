/**
 * Types shared by the cloud functions and the mini-program's client core. Pure types plus zod
 * schemas: nothing here may import the server SDK or Node, because the mini-program imports it
 * (type-only) as well.
 */
import type * as z from 'zod/v4'

/** Every error a function returns has one of these codes; the client switches on them. */
export type ErrorCode =
  | 'INVALID_REQUEST' // the event is not `{ action, data }`
  | 'UNKNOWN_ACTION'
  | 'INVALID_INPUT' // `data` failed the action's schema; `issues` says where
  | 'UNAUTHENTICATED' // no OPENID in the platform context
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'CONTENT_REJECTED' // text refused by security.msgSecCheck
  | 'RATE_LIMITED'
  | 'INTERNAL'

export interface InputIssue {
  /** Dotted path into `data`, empty for the whole object. */
  path: string
  message: string
}

export interface ErrorBody {
  code: ErrorCode
  message: string
  issues?: InputIssue[]
}

export type Result<T> = { ok: true; data: T } | { ok: false; error: ErrorBody }

/** The event every routed function accepts. */
export interface ActionEvent<A extends string = string, D = unknown> {
  action: A
  data?: D
}

/**
 * `user`: the caller must be identified by the platform (OPENID present);
 * `public`: identity is optional (the action does not depend on who asks).
 */
export type Auth = 'user' | 'public'

export interface ActionSchema {
  input: z.ZodType
  auth: Auth
}

export type ActionSchemas = Record<string, ActionSchema>

/** The typed surface of one function: per action, what goes in and what comes out. */
export type ApiOf<S extends ActionSchemas, O extends { [K in keyof S]: unknown }> = {
  [K in keyof S & string]: { input: z.input<S[K]['input']>; output: O[K] }
}
