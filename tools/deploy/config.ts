/**
 * The deploy configuration: `deploy.config.json` (committed: nothing in it is secret) checked by a
 * zod schema, plus the secrets, which come only from the environment or from `.env.deploy`
 * (gitignored; same variable names, the environment wins).
 *
 * Read by `npm run deploy`, `npm run release`, `npm run preview`, and by `npm run build`, which
 * writes the environment id into the mini-program (miniprogram/config.build.ts).
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import util from 'node:util'
import { z } from 'zod'
import { templateKeys } from '../../cloudfunctions/_shared/templates'
import { ROOT } from '../paths'

export const DEPLOY_CONFIG_FILE = path.join(ROOT, 'deploy.config.json')
export const SECRETS_FILE = path.join(ROOT, '.env.deploy')

/** The values a fresh clone ships with; the pre-flight refuses them (preflight.ts). */
export const PLACEHOLDER_APPID = 'touristappid'
export const PLACEHOLDER_ENV_ID = 'your-env-id'

/** Runtimes the bundles run on (they target Node 16: tools/build.ts). What 云开发控制台 → 云函数 → 新建 offers. */
export const RUNTIMES = ['Nodejs16.13', 'Nodejs18.15', 'Nodejs20.19'] as const
export const MEMORY_SIZES = [64, 128, 256, 512, 1024, 2048, 3072] as const

/**
 * Function environment variables that hold secrets. They are refused in deploy.config.json (it is
 * committed) and read from the environment or .env.deploy instead; the plan prints them masked.
 */
export const SECRET_FUNCTION_ENV = { MONITOR_WEBHOOK_URL: ['monitor'] } as const satisfies Record<string, readonly string[]>
export type SecretFunctionEnv = keyof typeof SECRET_FUNCTION_ENV

const memorySize = z
  .number()
  .int()
  .refine((v) => (MEMORY_SIZES as readonly number[]).includes(v), `one of ${MEMORY_SIZES.join(', ')} (MB)`)

const ENV_NAME = /^[A-Z][A-Z0-9_]{0,63}$/

/** Function environment variables: names in capitals; secrets refused (they belong in the environment). */
const functionEnv = z.record(z.string(), z.string().max(1000)).check((ctx) => {
  for (const key of Object.keys(ctx.value)) {
    if (!ENV_NAME.test(key)) {
      ctx.issues.push({ code: 'custom', input: key, path: [key], message: 'an environment variable name in capitals, digits and _ (such as FEEDBACK_HOURLY_LIMIT)' })
    } else if (key in SECRET_FUNCTION_ENV) {
      ctx.issues.push({ code: 'custom', input: key, path: [key], message: `${key} is a secret: set it in the environment or in .env.deploy, not in the committed deploy.config.json` })
    }
  }
})

const functionOverrides = z.strictObject({
  runtime: z.enum(RUNTIMES).optional(),
  memorySize: memorySize.optional(),
  /** Overrides config.json's `timeout` (seconds). */
  timeout: z.number().int().min(1).max(900).optional(),
  /** Added to (and overriding) config.json's `envVariables`. */
  env: functionEnv.default({}),
})

/** OPENIDs as getWXContext returns them (28 characters today; kept loose on purpose). */
const openid = z.string().regex(/^[A-Za-z0-9_-]{6,64}$/, 'an OPENID (letters, digits, - and _)')
/** A subscription-message template id as 公众平台 → 订阅消息 → 我的模板 shows it. */
const templateId = z.string().regex(/^[A-Za-z0-9_-]{10,64}$/, 'a template id as 公众平台 → 订阅消息 → 我的模板 shows it')

const templatesShape = Object.fromEntries(templateKeys.map((key) => [key, templateId.optional()])) as Record<(typeof templateKeys)[number], z.ZodOptional<typeof templateId>>

export function deployConfigSchema(functionNames: readonly string[]) {
  const functionsShape = Object.fromEntries(functionNames.map((name) => [name, functionOverrides.optional()])) as Record<string, z.ZodOptional<typeof functionOverrides>>
  return z.strictObject({
    /** For editors; ignored. */
    $schema: z.string().optional(),
    /** The mini-program's AppID (公众平台 → 开发管理 → 开发设置). */
    appid: z.string().regex(/^(wx[0-9a-f]{16}|touristappid)$/, 'an AppID such as wx0123456789abcdef (公众平台 → 开发管理 → 开发设置)'),
    /** The WeChat Cloud environment id (云开发控制台 → 概览 → 环境 ID). */
    envId: z.string().regex(/^[a-z0-9][a-z0-9-]{2,63}$/, 'an environment id such as prod-4g1x2y3z (云开发控制台 → 概览 → 环境 ID)'),
    /** The environment's region: where Tencent Cloud API calls go. */
    region: z.enum(['ap-shanghai', 'ap-guangzhou', 'ap-beijing']).default('ap-shanghai'),
    /** OPENIDs written into `app_config/admins` (merged with what an admin added in the console). */
    admins: z.array(openid).max(100).default([]),
    /** Subscription-message template ids, written into `app_config/templates`. */
    templates: z.strictObject(templatesShape).default({}),
    /** Runtime and memory of every function unless it says otherwise. */
    functionDefaults: z
      .strictObject({
        runtime: z.enum(RUNTIMES).default('Nodejs16.13'),
        memorySize: memorySize.default(256),
      })
      .prefault({}),
    /** Per function: runtime, memory, timeout, environment variables (over its config.json). */
    functions: z.strictObject(functionsShape).default({}),
    subscriptions: z
      .strictObject({
        /** Which version a subscription message opens: the released one, the trial or the developer version. */
        miniprogramState: z.enum(['formal', 'trial', 'developer']).default('formal'),
      })
      .prefault({}),
    incentives: z
      .strictObject({
        /**
         * Written into `app_config/incentives` (referral.checkPath): wxacode.getUnlimited refuses
         * pages that are not in the published version while it is on, so it stays off until the
         * first release is published.
         */
        checkPath: z.boolean().default(false),
      })
      .prefault({}),
    miniprogram: z
      .strictObject({
        /** Is a version with every page published (发布) already? Turns on the checkPath pre-flight. */
        published: z.boolean().default(false),
      })
      .prefault({}),
    demo: z
      .strictObject({
        /** Demo experiments (cloudfunctions/experiments/defaults.ts) ship running; a deploy stops them unless this says 'running'. */
        experiments: z.enum(['stopped', 'running']).default('stopped'),
      })
      .prefault({}),
    release: z
      .strictObject({
        /** miniprogram-ci robot number (1-30): each robot is a separate uploader in 版本管理. */
        robot: z.number().int().min(1).max(30).default(1),
        /** Download the uploaded version's source map into .release/ (for reading error stacks). */
        sourceMap: z.boolean().default(true),
        /** The page a preview QR code opens. */
        previewPage: z.string().regex(/^[a-z0-9_\-/]+$/).optional(),
      })
      .prefault({}),
  })
}

export type DeployConfig = z.output<ReturnType<typeof deployConfigSchema>>
export type FunctionOverrides = z.output<typeof functionOverrides>

export class DeployConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [],
  ) {
    super(issues.length ? `${message}\n${issues.map((i) => `  - ${i}`).join('\n')}` : message)
    this.name = 'DeployConfigError'
  }
}

function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`)
}

/** Parses a deploy configuration; every problem is reported, with its path. */
export function parseDeployConfig(raw: unknown, functionNames: readonly string[], source = 'deploy.config.json'): DeployConfig {
  const parsed = deployConfigSchema(functionNames).safeParse(raw)
  if (!parsed.success) throw new DeployConfigError(`${source} is not valid:`, describeIssues(parsed.error))
  return parsed.data
}

export function readDeployConfig(functionNames: readonly string[], file = DEPLOY_CONFIG_FILE): DeployConfig {
  if (!existsSync(file)) throw new DeployConfigError(`${path.relative(ROOT, file) || file} is missing: copy it from a fresh clone of the starter.`)
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new DeployConfigError(`${path.basename(file)} is not valid JSON: ${(err as Error).message}`)
  }
  return parseDeployConfig(raw, functionNames, path.basename(file))
}

// ---- secrets -------------------------------------------------------------------------------------

/** Environment variables the deploy reads (from the environment, or .env.deploy). */
export const SECRET_VARIABLES = {
  TENCENTCLOUD_SECRETID: 'Tencent Cloud API key id (访问管理 → API密钥管理), for @cloudbase/manager-node',
  TENCENTCLOUD_SECRETKEY: 'its secret key',
  TENCENTCLOUD_SESSIONTOKEN: 'only with a temporary key',
  MINIPROGRAM_CI_PRIVATE_KEY: 'the code-upload key itself (PEM), for miniprogram-ci; or:',
  MINIPROGRAM_CI_PRIVATE_KEY_PATH: 'a path to it (default: private.<appid>.key in the repository, gitignored)',
  MONITOR_WEBHOOK_URL: "the monitor function's alert webhook (its URL carries a token)",
  DEPLOY_PROXY: 'an HTTP(S) proxy for every call of both tools (default: HTTPS_PROXY)',
} as const

export interface Secrets {
  tencentCloud?: { secretId: string; secretKey: string; token?: string }
  /** The miniprogram-ci upload key, and where it came from (for messages; never the key). */
  uploadKey?: { pem: string; source: string }
  functionEnv: Partial<Record<SecretFunctionEnv, string>>
  proxy?: string
  /** Problems found while reading them (e.g. half a key pair): reported by the pre-flight. */
  problems: string[]
}

function readSecretsFile(file: string): Record<string, string> {
  if (!existsSync(file)) return {}
  const parse = (util as { parseEnv?: (content: string) => Record<string, string> }).parseEnv
  if (!parse) throw new DeployConfigError(`Reading ${path.basename(file)} needs Node.js 20.12 or newer; or set its variables in the environment.`)
  return parse(readFileSync(file, 'utf8'))
}

/** The secrets, from `env` over the local file. `appid` names the default key file. */
export function loadSecrets(appid: string, env: NodeJS.ProcessEnv = process.env, file = SECRETS_FILE, root = ROOT): Secrets {
  const fromFile = readSecretsFile(file)
  const get = (name: string): string | undefined => {
    const value = env[name] ?? fromFile[name]
    return value && value.trim() ? value.trim() : undefined
  }
  const problems: string[] = []
  const secrets: Secrets = { functionEnv: {}, problems }

  const secretId = get('TENCENTCLOUD_SECRETID')
  const secretKey = get('TENCENTCLOUD_SECRETKEY')
  if (secretId && secretKey) secrets.tencentCloud = { secretId, secretKey, ...(get('TENCENTCLOUD_SESSIONTOKEN') ? { token: get('TENCENTCLOUD_SESSIONTOKEN') } : {}) }
  else if (secretId || secretKey) problems.push(`Only one of TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY is set: set both (访问管理 → API密钥管理).`)

  const inline = get('MINIPROGRAM_CI_PRIVATE_KEY')
  const keyPath = get('MINIPROGRAM_CI_PRIVATE_KEY_PATH')
  const defaultPath = path.join(root, `private.${appid}.key`)
  if (inline) {
    // CI secrets often arrive with literal \n instead of line breaks.
    const pem = inline.includes('\\n') && !inline.includes('\n') ? inline.replace(/\\n/g, '\n') : inline
    if (pem.includes('PRIVATE KEY')) secrets.uploadKey = { pem, source: 'MINIPROGRAM_CI_PRIVATE_KEY' }
    else problems.push('MINIPROGRAM_CI_PRIVATE_KEY is not a PEM private key (it starts with -----BEGIN RSA PRIVATE KEY-----).')
  } else if (keyPath) {
    const resolved = path.resolve(root, keyPath)
    if (existsSync(resolved)) secrets.uploadKey = { pem: readFileSync(resolved, 'utf8'), source: path.relative(root, resolved) || resolved }
    else problems.push(`MINIPROGRAM_CI_PRIVATE_KEY_PATH points to ${resolved}, which does not exist.`)
  } else if (existsSync(defaultPath)) {
    secrets.uploadKey = { pem: readFileSync(defaultPath, 'utf8'), source: path.relative(root, defaultPath) }
  }

  for (const name of Object.keys(SECRET_FUNCTION_ENV) as SecretFunctionEnv[]) {
    const value = get(name)
    if (value) secrets.functionEnv[name] = value
  }
  const webhook = secrets.functionEnv.MONITOR_WEBHOOK_URL
  if (webhook && !/^https?:\/\/\S+$/.test(webhook)) problems.push('MONITOR_WEBHOOK_URL is not an http(s) URL.')

  const proxy = get('DEPLOY_PROXY') ?? get('HTTPS_PROXY') ?? get('https_proxy')
  if (proxy) secrets.proxy = proxy
  return secrets
}

/** A secret as the plan prints it. */
export function mask(value: string): string {
  if (value.length <= 8) return '••••'
  return `${value.slice(0, Math.min(12, Math.floor(value.length / 3)))}••••`
}
