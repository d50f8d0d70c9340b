/**
 * What a deploy should leave in the environment, computed from the repository alone: each
 * function's bundle, config.json and deploy-config overrides; the collection manifest (collections,
 * indexes, rules) and its storage rule; the `app_config` documents; the demo experiments to stop;
 * the demo content when asked. Pure reads of local files: no network, no credentials.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { type CollectionName, collections, type IndexSpec, type SecurityRule } from '../../cloudfunctions/_shared/collections'
import { type TemplateKey, templateKeys } from '../../cloudfunctions/_shared/templates'
import { DEFAULT_DOCS } from '../../cloudfunctions/experiments/defaults'
import { configDocSchema } from '../../cloudfunctions/experiments/schema'
import { listFunctions } from '../build'
import { FUNCTIONS_DIR } from '../paths'
import { readDemoContent } from '../seed/demo-content'
import { type DeployConfig, SECRET_FUNCTION_ENV, type SecretFunctionEnv, type Secrets } from './config'
import { manifestStorageRule } from './storage-rule'

/** A function's config.json, as WeChat DevTools reads it (and the extra keys this starter uses). */
export const functionConfigSchema = z.strictObject({
  permissions: z.strictObject({ openapi: z.array(z.string().regex(/^[a-zA-Z]+\.[a-zA-Z]+$/)).default([]) }).prefault({}),
  triggers: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]{0,59}$/),
        type: z.literal('timer'),
        /** Seven-field cron: second minute hour day month weekday year. */
        config: z.string().regex(/^\S+( \S+){6}$/, 'a seven-field cron expression (second minute hour day month weekday year)'),
      }),
    )
    .default([]),
  timeout: z.number().int().min(1).max(900).default(3),
  memorySize: z.number().int().optional(),
  envVariables: z.record(z.string(), z.string()).default({}),
})
export type FunctionConfigJson = z.output<typeof functionConfigSchema>

export interface TimerTrigger {
  name: string
  /** The seven-field cron expression. */
  config: string
}

export interface DesiredFunction {
  name: string
  runtime: string
  memorySize: number
  timeout: number
  /** Every variable the deploy manages (config.json, deploy config, derived, secrets). */
  env: Record<string, string>
  /** Names in `env` whose values are secrets (printed masked). */
  secretEnv: string[]
  openapi: string[]
  triggers: TimerTrigger[]
  /** The files uploaded, relative to the function folder. */
  files: string[]
  /** sha256 over the uploaded files: unchanged code is not uploaded again. */
  codeSha256: string
}

export interface DesiredCollection {
  name: CollectionName
  indexes: readonly IndexSpec[]
  rule: SecurityRule
}

export interface DesiredDocuments {
  admins: string[]
  templates: Partial<Record<TemplateKey, string>>
  incentivesCheckPath: boolean
  /** Demo experiments to store as stopped (when no document exists for them). */
  stopExperiments: { id: string; doc: Record<string, unknown> }[]
  /** Demo experiments left running (listed in the plan). */
  runningDemoExperiments: string[]
}

export interface DesiredSeed {
  categories: Record<string, unknown>[]
  guides: Record<string, unknown>[]
}

export interface DesiredState {
  appid: string
  envId: string
  region: string
  functions: DesiredFunction[]
  collections: DesiredCollection[]
  storageRule: SecurityRule | null
  documents: DesiredDocuments
  seed: DesiredSeed | null
}

/** The files of a function folder that are uploaded: the bundle and what the cloud reads next to it. */
export const UPLOADED_FILES = ['index.js', 'package.json', 'config.json'] as const

/** The description a deployed function carries: how the next deploy knows its code is current. */
export function codeDescription(sha256: string): string {
  return `growth-starter bundle sha256:${sha256.slice(0, 16)} (npm run deploy)`
}

export function readFunctionConfig(name: string, dir = FUNCTIONS_DIR): FunctionConfigJson {
  const file = path.join(dir, name, 'config.json')
  const parsed = functionConfigSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')))
  if (!parsed.success) {
    throw new Error(`cloudfunctions/${name}/config.json: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  }
  return parsed.data
}

export function bundleSha256(name: string, dir = FUNCTIONS_DIR): string {
  const hash = createHash('sha256')
  for (const file of UPLOADED_FILES) {
    const full = path.join(dir, name, file)
    if (!existsSync(full)) throw new Error(`cloudfunctions/${name}/${file} is missing: run \`npm run build\` first.`)
    hash.update(`${file}\0`).update(readFileSync(full)).update('\0')
  }
  return hash.digest('hex')
}

function desiredFunction(name: string, config: DeployConfig, secrets: Secrets): DesiredFunction {
  const json = readFunctionConfig(name)
  const overrides = (config.functions as Record<string, DeployConfig['functions'][string]>)[name]
  const env: Record<string, string> = { ...json.envVariables }
  // Every function that sends subscription messages opens them in the configured version.
  if (json.permissions.openapi.includes('subscribeMessage.send')) env.NOTIFY_MINIPROGRAM_STATE = config.subscriptions.miniprogramState
  Object.assign(env, overrides?.env ?? {})
  const secretEnv: string[] = []
  for (const [key, fns] of Object.entries(SECRET_FUNCTION_ENV) as [SecretFunctionEnv, readonly string[]][]) {
    const value = secrets.functionEnv[key]
    if (value && fns.includes(name)) {
      env[key] = value
      secretEnv.push(key)
    }
  }
  return {
    name,
    runtime: overrides?.runtime ?? config.functionDefaults.runtime,
    memorySize: overrides?.memorySize ?? json.memorySize ?? config.functionDefaults.memorySize,
    timeout: overrides?.timeout ?? json.timeout,
    env,
    secretEnv,
    openapi: json.permissions.openapi,
    triggers: json.triggers.map((t) => ({ name: t.name, config: t.config })),
    files: [...UPLOADED_FILES],
    codeSha256: bundleSha256(name),
  }
}

export interface DesiredOptions {
  /** Load the demo guides into empty `categories`/`guides` collections. */
  seedDemo?: boolean
  /** Leave demo experiments running (overrides `demo.experiments`). */
  runDemoExperiments?: boolean
}

export function desiredState(config: DeployConfig, secrets: Secrets, options: DesiredOptions = {}): DesiredState {
  const stopDemo = !options.runDemoExperiments && config.demo.experiments === 'stopped'
  const demoExperiments = DEFAULT_DOCS.filter((doc) => doc.kind === 'experiment' && doc.status === 'running')
  const stopExperiments = stopDemo
    ? demoExperiments.map((doc) => {
        const stopped = { ...doc, status: 'stopped' as const }
        // The experiments function's own schema: what the deploy writes is what it accepts.
        configDocSchema.parse(stopped)
        return { id: doc._id, doc: stopped as unknown as Record<string, unknown> }
      })
    : []
  const templates: Partial<Record<TemplateKey, string>> = {}
  for (const key of templateKeys) {
    const id = config.templates[key]
    if (id) templates[key] = id
  }
  const demo = options.seedDemo ? readDemoContent() : null
  return {
    appid: config.appid,
    envId: config.envId,
    region: config.region,
    functions: listFunctions().map((name) => desiredFunction(name, config, secrets)),
    collections: (Object.keys(collections) as CollectionName[]).map((name) => ({ name, indexes: collections[name].indexes, rule: collections[name].rule })),
    storageRule: manifestStorageRule(),
    documents: {
      admins: [...new Set(config.admins)],
      templates,
      incentivesCheckPath: config.incentives.checkPath,
      stopExperiments,
      runningDemoExperiments: stopDemo ? [] : demoExperiments.map((d) => d._id),
    },
    seed: demo
      ? {
          categories: demo.categories.map((c) => ({ ...c })),
          // A real environment starts at zero views (the local cloud's plausible counts are for the demo only).
          guides: demo.guides.map((g) => ({ ...g, views: 0 })),
        }
      : null,
  }
}
