/**
 * The typed cloud client: one `call(fn, action, data)` whose input and output types come from the
 * functions' own contracts (cloudfunctions/<fn>/api.ts), two transports (wx.cloud.callFunction,
 * or HTTP to the local cloud's gateway), a timeout, retries with backoff for safe calls, and one
 * error type pages can switch on.
 */
import type { ErrorCode, Result } from '../../cloudfunctions/_shared/contract'
import type { AnalyticsApi } from '../../cloudfunctions/analytics/api'
import type { ChannelApi } from '../../cloudfunctions/channel/api'
import type { ContentApi } from '../../cloudfunctions/content/api'
import type { ExperimentsApi } from '../../cloudfunctions/experiments/api'
import type { FeedbackApi } from '../../cloudfunctions/feedback/api'
import type { IncentivesApi } from '../../cloudfunctions/incentives/api'
import type { MonitorApi } from '../../cloudfunctions/monitor/api'
import type { NotifyApi } from '../../cloudfunctions/notify/api'
import type { SurveyApi } from '../../cloudfunctions/survey/api'
import type { TrackApi } from '../../cloudfunctions/track/api'
import type { UserApi } from '../../cloudfunctions/user/api'
import { type AppConfig, config as defaults } from '../config'

export interface Apis {
  user: UserApi
  content: ContentApi
  track: TrackApi
  channel: ChannelApi
  monitor: MonitorApi
  analytics: AnalyticsApi
  experiments: ExperimentsApi
  incentives: IncentivesApi
  notify: NotifyApi
  feedback: FeedbackApi
  survey: SurveyApi
}
export type FunctionName = keyof Apis
export type ActionName<F extends FunctionName> = keyof Apis[F] & string
type Entry<F extends FunctionName, A extends ActionName<F>> = Apis[F][A]
export type Input<F extends FunctionName, A extends ActionName<F>> = Entry<F, A> extends { input: infer I } ? I : never
export type Output<F extends FunctionName, A extends ActionName<F>> = Entry<F, A> extends { output: infer O } ? O : never

/** A function's own error codes, plus what can go wrong on the way. */
export type CloudErrorCode = ErrorCode | 'NETWORK' | 'TIMEOUT' | 'FUNCTION_FAILED' | 'BAD_RESPONSE'

export class CloudError extends Error {
  constructor(
    readonly code: CloudErrorCode,
    message: string,
    /** Worth trying again: the call may not have reached the function, or failed on the way back. */
    readonly retriable: boolean,
  ) {
    super(message)
    this.name = 'CloudError'
  }
}

export interface CallOptions {
  /** Extra attempts for a failure that is retriable. Only for calls safe to repeat. */
  retries?: number
  timeoutMs?: number
  /** Refusals that are answers, not failures (e.g. "no invite"): still thrown, never reported as failed calls. */
  expected?: CloudErrorCode[]
}

type Transport = (fn: string, event: { action: string; data: unknown }, timeoutMs: number) => Promise<unknown>

let settings: AppConfig & { retryBaseMs: number } = { ...defaults, retryBaseMs: 400 }

/** Overrides the configuration (tests point it at a local cloud; nothing else needs to). */
export function configureCloud(overrides: Partial<AppConfig & { retryBaseMs: number }>): void {
  settings = { ...settings, ...overrides }
}

/** `local` unless this is a release build, which must never call a developer's laptop. */
export function cloudMode(): AppConfig['mode'] {
  if (settings.mode === 'local') {
    try {
      if (wx.getAccountInfoSync().miniProgram.envVersion === 'release') return 'cloud'
    } catch {
      // not available (tests, old base libraries): keep the configured mode
    }
  }
  return settings.mode
}

/** Where the local cloud listens (local mode's storage uploads go there too). */
export function localCloudUrl(): string {
  return settings.localCloudUrl
}

/** Headers every local-cloud request carries: the development caller, and the access token if set. */
export function localCloudHeaders(): Record<string, string> {
  return { 'x-wx-openid': localOpenid(), ...(settings.localCloudToken ? { 'x-local-cloud-token': settings.localCloudToken } : {}) }
}

/** Call once at launch. */
export function initCloud(): void {
  if (cloudMode() === 'cloud') wx.cloud.init({ env: settings.cloudEnv, traceUser: true })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function timeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new CloudError('TIMEOUT', `No answer within ${ms} ms`, true)), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err)
      },
    )
  })
}

const LOCAL_OPENID_KEY = 'local-cloud:openid'

/** In local mode there is no WeChat identity: each device gets a stable development openid. */
export function localOpenid(): string {
  let openid = ''
  try {
    openid = wx.getStorageSync(LOCAL_OPENID_KEY) as string
  } catch {
    // unreadable storage: make a new one
  }
  if (typeof openid !== 'string' || !/^dev-[a-z0-9]{12}$/.test(openid)) {
    openid = `dev-${Math.random().toString(36).slice(2, 8)}${Date.now().toString(36).slice(-6)}`.padEnd(16, '0').slice(0, 16)
    try {
      wx.setStorageSync(LOCAL_OPENID_KEY, openid)
    } catch {
      // keep it for this session only
    }
  }
  return openid
}

const viaCloud: Transport = (fn, event, timeoutMs) =>
  timeout(
    new Promise((resolve, reject) => {
      wx.cloud.callFunction({
        name: fn,
        data: event,
        success: (res) => resolve(res.result),
        fail: (err: { errCode?: number; errMsg?: string }) => {
          const text = err.errMsg ?? 'cloud.callFunction failed'
          // -504003: the function timed out on the cloud; other -50xxxx codes are the cloud's own failures.
          const code = err.errCode === -504003 || /timeout|timed out/i.test(text) ? 'TIMEOUT' : /network|request:fail/i.test(text) ? 'NETWORK' : 'FUNCTION_FAILED'
          reject(new CloudError(code, text, true))
        },
      })
    }),
    timeoutMs,
  )

const viaLocalCloud: Transport = (fn, event, timeoutMs) =>
  new Promise((resolve, reject) => {
    wx.request({
      url: `${settings.localCloudUrl}/functions/${fn}`,
      method: 'POST',
      data: event,
      timeout: timeoutMs,
      header: { 'content-type': 'application/json', ...localCloudHeaders() },
      success: (res) => {
        const body = res.data
        if (res.statusCode === 200 && isRecord(body) && 'result' in body) {
          resolve(body.result)
          return
        }
        const error = isRecord(body) && isRecord(body.error) ? body.error : {}
        const message = typeof error.message === 'string' ? error.message : `HTTP ${res.statusCode}`
        reject(new CloudError(res.statusCode === 504 ? 'TIMEOUT' : 'FUNCTION_FAILED', message, res.statusCode >= 500))
      },
      fail: (err) => reject(new CloudError(/timeout/i.test(err.errMsg) ? 'TIMEOUT' : 'NETWORK', err.errMsg, true)),
    })
  })

/** A failure must carry its error: `{ ok: false }` alone is a broken function, not a network problem. */
function isResult<T>(value: unknown): value is Result<T> {
  if (!isRecord(value)) return false
  return value.ok === true || (value.ok === false && isRecord(value.error) && typeof value.error.code === 'string')
}

function unwrap<T>(result: unknown): T {
  if (!isResult<T>(result)) throw new CloudError('BAD_RESPONSE', 'The function returned something that is not a Result', false)
  if (result.ok) return result.data
  throw new CloudError(result.error.code, result.error.message, result.error.code === 'INTERNAL')
}

function toCloudError(err: unknown): CloudError {
  if (err instanceof CloudError) return err
  return new CloudError('NETWORK', err instanceof Error ? err.message : String(err), true)
}

/** Full-jitter exponential backoff: a random wait in [0, base * 2^attempt], capped at 5 s. */
function backoff(attempt: number): number {
  return Math.random() * Math.min(5000, settings.retryBaseMs * 2 ** attempt)
}

/** One finished call (all its attempts), for monitoring. */
export interface CallRecord {
  fn: FunctionName
  action: string
  ok: boolean
  code?: CloudErrorCode
  /** A refusal the caller expects (CallOptions.expected): the function answered as designed. */
  expected?: true
  durationMs: number
}

const observers: ((record: CallRecord) => void)[] = []

/** Registers a listener for every finished call (the monitor counts failures and slow calls). */
export function observeCalls(listener: (record: CallRecord) => void): void {
  observers.push(listener)
}

function report(record: CallRecord): void {
  for (const listener of observers) {
    try {
      listener(record)
    } catch {
      // a broken observer must not break the call
    }
  }
}

export async function call<F extends FunctionName, A extends ActionName<F>>(
  fn: F,
  action: A,
  data: Input<F, A>,
  options: CallOptions = {},
): Promise<Output<F, A>> {
  const transport = cloudMode() === 'cloud' ? viaCloud : viaLocalCloud
  const retries = options.retries ?? 0
  const started = Date.now()
  for (let attempt = 0; ; attempt++) {
    try {
      const output = unwrap<Output<F, A>>(await transport(fn, { action, data }, options.timeoutMs ?? settings.timeoutMs))
      report({ fn, action, ok: true, durationMs: Date.now() - started })
      return output
    } catch (err) {
      const error = toCloudError(err)
      if (!error.retriable || attempt >= retries) {
        report({ fn, action, ok: false, code: error.code, ...(options.expected?.includes(error.code) ? { expected: true as const } : {}), durationMs: Date.now() - started })
        throw error
      }
      await new Promise((resolve) => setTimeout(resolve, backoff(attempt)))
    }
  }
}

const MESSAGES: Partial<Record<CloudErrorCode, string>> = {
  NETWORK: '网络不太给力，请检查网络后重试',
  TIMEOUT: '请求超时了，请稍后重试',
  NOT_FOUND: '内容不存在或已下线',
  UNAUTHENTICATED: '请先登录后再试',
  FORBIDDEN: '没有权限进行这个操作',
  RATE_LIMITED: '操作太频繁了，请稍后再试',
  INVALID_INPUT: '提交的内容有误，请检查后重试',
}

/** A short Chinese sentence for the user. Functions word CONTENT_REJECTED messages for users themselves. */
export function describeError(err: unknown): string {
  const error = toCloudError(err)
  if (error.code === 'CONTENT_REJECTED') return error.message
  return MESSAGES[error.code] ?? '服务开小差了，请稍后重试'
}
