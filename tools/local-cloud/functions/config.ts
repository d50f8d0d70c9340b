/**
 * A function's config.json, as WeChat DevTools deploys it: openapi permissions, timer triggers,
 * timeout (seconds, default 3 like the cloud), memory size and environment variables.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { CronPattern } from 'croner'
import * as z from 'zod/v4'

/** WeChat's cron has exactly seven fields; croner also reads five or six, with another meaning. */
function isWeChatCron(expression: string): boolean {
  if (expression.trim().split(/\s+/).length !== 7) return false
  try {
    new CronPattern(expression)
    return true
  } catch {
    return false
  }
}

const configSchema = z.object({
  permissions: z.object({ openapi: z.array(z.string()).default([]) }).default({ openapi: [] }),
  triggers: z
    .array(
      z.object({
        name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,59}$/, 'a letter, then up to 59 letters, digits, - or _'),
        type: z.literal('timer'),
        config: z.string().refine(isWeChatCron, 'a cron expression of 7 fields: second minute hour day month weekday year'),
        message: z.string().optional(),
      }),
    )
    .default([]),
  timeout: z.number().min(1).max(900).default(3),
  memorySize: z.number().int().min(64).max(3072).default(256),
  envVariables: z.record(z.string(), z.string()).default({}),
})

export interface TimerTrigger {
  name: string
  /** WeChat's 7-field cron: second minute hour day month weekday year, in UTC+8. */
  cron: string
  message?: string
}

export interface FunctionConfig {
  name: string
  dir: string
  /** The bundled entry the cloud runs: <dir>/index.js. */
  entry: string
  timeoutMs: number
  memoryMb: number
  envVariables: Record<string, string>
  openapi: string[]
  triggers: TimerTrigger[]
}

/**
 * A function's config.json. `timeoutScale` multiplies its timeout: 1 is the cloud's own; tests that
 * run on a loaded machine and do not test timeouts use a larger one (a timeout there only waits).
 */
export function readFunctionConfig(functionsDir: string, name: string, timeoutScale = 1): FunctionConfig {
  const dir = path.join(functionsDir, name)
  const file = path.join(dir, 'config.json')
  const raw: unknown = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}
  const parsed = configSchema.safeParse(raw)
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
    throw new Error(`cloudfunctions/${name}/config.json is invalid: ${detail}`)
  }
  const config = parsed.data
  return {
    name,
    dir,
    entry: path.join(dir, 'index.js'),
    timeoutMs: config.timeout * 1000 * timeoutScale,
    memoryMb: config.memorySize,
    envVariables: config.envVariables,
    openapi: config.permissions.openapi,
    triggers: config.triggers.map((t) => ({ name: t.name, cron: t.config, message: t.message })),
  }
}
