/**
 * The subscription-message template registry: which templates the app sends, their fields and each
 * field's WeChat kind. Template IDS are not here: they differ per AppID (each account picks its own
 * templates in 公众平台 → 订阅消息), so they live in the `app_config` document `templates`
 * (`{ ids: { checkin_reminder: '<id from the console>' } }`). A template without an id there is
 * "not configured": the subscribe button does not ask for it and sends refuse it.
 *
 * A field's key is the one the console shows in the template's details (`{{thing1.DATA}}` → `thing1`);
 * its kind is the key without the trailing number, and the kind decides what a value may hold
 * (`formatField`). Pure module: the mini-program imports it for the template keys and types.
 */

/** WeChat's field kinds (subscribeMessage.send, "订阅消息参数值内容限制"). */
export type FieldKind =
  | 'thing'
  | 'number'
  | 'letter'
  | 'symbol'
  | 'character_string'
  | 'time'
  | 'date'
  | 'amount'
  | 'phone_number'
  | 'car_number'
  | 'name'
  | 'phrase'
  | 'short_thing'

/** A field key as the console names it: the kind, then its number (`thing1`, `character_string3`). */
export type FieldKey = `${FieldKind}${number}`

/** `one_time`: each accept allows one send (the kind every mini-program can use). */
export type SubscriptionKind = 'one_time'

export interface TemplateSpec {
  /** The template's title in the console's library, to find it again there. */
  title: string
  kind: SubscriptionKind
  /** The page the message opens (no leading slash); the send adds `?msg=<message log id>`. */
  page: string
  /** Field key → what it shows (the console's label), in the template's order. */
  fields: Readonly<Record<FieldKey, string>>
}

export const templates = {
  /** The daily check-in reminder, asked for after a check-in ("明天提醒我"), sent by `notify`'s timer. */
  checkin_reminder: {
    title: '签到提醒',
    kind: 'one_time',
    page: 'packages/incentives/checkin/index',
    fields: { thing1: '签到活动', number2: '已连续签到(天)', thing3: '温馨提示' },
  },
  /** An admin replied to the user's feedback. */
  feedback_reply: {
    title: '反馈处理结果通知',
    kind: 'one_time',
    page: 'packages/feedback/mine/index',
    fields: { thing1: '反馈内容', thing2: '回复内容', phrase3: '处理状态', time4: '回复时间' },
  },
  /** An incident opened (the `monitor` function; admins subscribe from the dashboard). */
  ops_alert: {
    title: '系统告警通知',
    kind: 'one_time',
    page: 'packages/admin/index',
    fields: { thing1: '告警内容', time2: '告警时间', character_string3: '影响范围' },
  },
} as const satisfies Record<string, TemplateSpec>

export type TemplateKey = keyof typeof templates
export const templateKeys = Object.keys(templates) as TemplateKey[]

export function isTemplateKey(key: string): key is TemplateKey {
  return Object.prototype.hasOwnProperty.call(templates, key)
}

/** The data a send of template `K` takes: exactly its fields, each a string or number. */
export type TemplateData<K extends TemplateKey> = { [F in keyof (typeof templates)[K]['fields']]: string | number }

/** What the device reports after wx.requestSubscribeMessage, per template. */
export const SUBSCRIBE_OUTCOMES = ['accept', 'reject', 'ban', 'filter', 'switched_off'] as const
/** `switched_off`: the user has turned subscription messages off (wx.getSetting mainSwitch false, errCode 20004). */
export type SubscribeOutcome = (typeof SUBSCRIBE_OUTCOMES)[number]

export type RefusalReason = 'unknown_template' | 'not_configured' | 'invalid_field' | 'duplicate'

/** What a send came to (cloudfunctions/_shared/messages.ts). */
export type SendOutcome =
  | { status: 'sent'; logId: string }
  /** The user has not accepted (or has used up) this template. */
  | { status: 'no_quota'; logId: string }
  /** Refused before spending anything; `field` names the invalid field. */
  | { status: 'rejected'; reason: RefusalReason; message: string; field?: string }
  /** WeChat refused or could not be reached; `errCode` 43101 means the quota is gone. */
  | { status: 'failed'; logId: string; errCode: number; message: string }

// ---- field rules --------------------------------------------------------------------------------

export function kindOf(key: string): FieldKind | undefined {
  const kind = /^([a-z_]+?)\d+$/.exec(key)?.[1]
  return kind && kind in LIMITS ? (kind as FieldKind) : undefined
}

/** Length limits in characters (code points); `name` allows 20 when it holds no Chinese. */
const LIMITS: Record<FieldKind, number> = {
  thing: 20,
  number: 32,
  letter: 32,
  symbol: 5,
  character_string: 32,
  time: 64,
  date: 64,
  amount: 12,
  phone_number: 17,
  car_number: 8,
  name: 10,
  phrase: 5,
  short_thing: 5,
}

/** Kinds whose over-long text is cut (with an ellipsis): free text, where a shorter value still reads. */
const TRUNCATED = new Set<FieldKind>(['thing', 'short_thing', 'name', 'character_string', 'letter'])

const HAN = /\p{Script=Han}/u
const ONLY_HAN = /^\p{Script=Han}+$/u
const LETTERS = /^[A-Za-z]+$/
const SYMBOLS = /^[\p{P}\p{S}]+$/u
const CHAR_STRING = /^[\x21-\x7e]+$/
const NUMBER = /^[+-]?\d+(\.\d+)?$/
const AMOUNT = /^[¥￥$€£]?\d{1,10}(\.\d{1,2})?元?$/
const PHONE = /^\+?[\d\-() ]+$/
const CAR = /^[\p{Script=Han}A-Z][A-Z0-9]{5,6}[\p{Script=Han}A-Z0-9]?$/u
const CLOCK = '([01]?\\d|2[0-3]):[0-5]\\d(:[0-5]\\d)?'
const YMD = '(\\d{4}[-/.]\\d{1,2}[-/.]\\d{1,2}|\\d{4}年\\d{1,2}月\\d{1,2}日)'
const TIME_POINT = `(${YMD}\\s*)?${CLOCK}|${YMD}`
const DATE_POINT = `${YMD}(\\s*${CLOCK})?`
const range = (point: string) => new RegExp(`^(${point})(\\s*~\\s*(${point}))?$`)
const TIME = range(TIME_POINT)
const DATE = range(DATE_POINT)

export type FieldResult = { ok: true; value: string } | { ok: false; reason: string }

function cut(chars: string[], limit: number): string {
  return chars.length <= limit ? chars.join('') : `${chars.slice(0, limit - 1).join('')}…`
}

/**
 * Makes a value valid for its kind: free text over the limit is cut with an ellipsis; a value that
 * cannot be made valid (a `phrase` with non-Chinese, a `number` that is not a number, a `time` that
 * is not a time) is refused with the reason. WeChat answers 47003 for such values, after the quota
 * was spent, so they are caught here before anything is sent.
 */
export function formatField(kind: FieldKind, raw: string | number): FieldResult {
  const value = String(raw).trim()
  if (value === '') return { ok: false, reason: 'is empty' }
  const chars = [...value]
  const limit = LIMITS[kind]
  const tooLong = { ok: false as const, reason: `is longer than ${limit} characters` }
  switch (kind) {
    case 'thing':
    case 'short_thing':
    case 'character_string':
    case 'letter': {
      if (kind === 'character_string' && !CHAR_STRING.test(value)) return { ok: false, reason: 'may hold only letters, digits and symbols' }
      if (kind === 'letter' && !LETTERS.test(value)) return { ok: false, reason: 'may hold only letters' }
      return { ok: true, value: TRUNCATED.has(kind) ? cut(chars, limit) : value }
    }
    case 'name': {
      // 10 Chinese characters, or 20 letters/symbols when there is no Chinese.
      const max = HAN.test(value) ? 10 : 20
      return { ok: true, value: cut(chars, max) }
    }
    case 'phrase':
      if (!ONLY_HAN.test(value)) return { ok: false, reason: 'may hold only Chinese characters' }
      return chars.length <= limit ? { ok: true, value } : tooLong
    case 'number':
      if (!NUMBER.test(value)) return { ok: false, reason: 'is not a number' }
      return chars.length <= limit ? { ok: true, value } : tooLong
    case 'symbol':
      if (!SYMBOLS.test(value)) return { ok: false, reason: 'may hold only symbols' }
      return chars.length <= limit ? { ok: true, value } : tooLong
    case 'amount':
      return AMOUNT.test(value) ? { ok: true, value } : { ok: false, reason: 'is not an amount (an optional currency sign, up to 10 digits, optional 元)' }
    case 'phone_number':
      if (!PHONE.test(value)) return { ok: false, reason: 'is not a phone number' }
      return chars.length <= limit ? { ok: true, value } : tooLong
    case 'car_number':
      return CAR.test(value) ? { ok: true, value } : { ok: false, reason: 'is not a licence plate' }
    case 'time':
      return TIME.test(value) ? { ok: true, value } : { ok: false, reason: 'is not a time (such as 15:01 or 2019-10-01 15:01)' }
    case 'date':
      return DATE.test(value) ? { ok: true, value } : { ok: false, reason: 'is not a date (such as 2019-10-01 or 2019年10月1日)' }
  }
}

export interface FieldIssue {
  field: string
  reason: string
}

/** Checks a whole message against its template: every field present, no extra field, each value valid. */
export function formatData(key: TemplateKey, data: Record<string, unknown>): { ok: true; data: Record<string, { value: string }> } | { ok: false; issue: FieldIssue } {
  const fields = templates[key].fields as Record<string, string>
  for (const field of Object.keys(data)) {
    if (!(field in fields)) return { ok: false, issue: { field, reason: `is not a field of ${key}` } }
  }
  const out: Record<string, { value: string }> = {}
  for (const field of Object.keys(fields)) {
    const raw = data[field]
    const kind = kindOf(field)
    if (!kind) return { ok: false, issue: { field, reason: 'has no known field kind' } }
    if (typeof raw !== 'string' && typeof raw !== 'number') return { ok: false, issue: { field, reason: 'is missing' } }
    const result = formatField(kind, raw)
    if (!result.ok) return { ok: false, issue: { field, reason: result.reason } }
    out[field] = { value: result.value }
  }
  return { ok: true, data: out }
}
