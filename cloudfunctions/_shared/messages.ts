/**
 * Sending subscription messages: the one way a function sends one. A send
 *  1. checks the template and its fields (templates.ts) and that the template has an id in
 *     `app_config/templates` — a refusal here spends nothing;
 *  2. takes one from the user's quota with a conditional update (`quota > 0` → -1), so two sends
 *     racing for the last accept cannot both win;
 *  3. reserves its message-log document, `_id` = the reason key when given, so the same reason
 *     (`feedback_reply:<id>`, `checkin_reminder:<openid>:<day>`) is never sent twice;
 *  4. calls WeChat with the page plus `?msg=<log id>` (the open is attributed to this message), and
 *     marks the log. Error 43101 (the user has no subscription left) sets the quota to 0; any other
 *     failure gives the quota back, as nothing was delivered, and lets the reason be tried again.
 * Needs `subscribeMessage.send` in the calling function's config.json permissions.
 */
import { randomBytes } from 'node:crypto'
import { collection, command, isDuplicateKeyError, sendSubscribeMessage } from './cloud'
import type { MessageLogDoc } from './models'
import { formatData, isTemplateKey, type SendOutcome, type TemplateData, type TemplateKey, templates } from './templates'

export type { RefusalReason, SendOutcome } from './templates'

export const TEMPLATES_CONFIG_ID = 'templates'

/** WeChat: the user refused, or the accepted sends are used up. */
export const ERR_NO_SUBSCRIPTION = 43101

export interface SendRequest<K extends TemplateKey> {
  openid: string
  template: K
  data: TemplateData<K>
  /** A natural key for what this message is about; a reason already sent is refused (`duplicate`). */
  reason?: string
  /** Overrides the template's page (may carry a query); `msg=<log id>` is added. */
  page?: string
}

export const subscriptionId = (openid: string, template: string) => `${openid}:${template}`

// ---- template ids (app_config/templates) --------------------------------------------------------

let cachedIds: { at: number; ids: Partial<Record<TemplateKey, string>> } | undefined

function idsTtlMs(): number {
  const value = Number(process.env.TEMPLATES_TTL_MS)
  return Number.isFinite(value) && process.env.TEMPLATES_TTL_MS ? value : 30_000
}

/** The template ids of this AppID, read from `app_config/templates` (kept for 30 s in the instance). */
export async function templateIds(): Promise<Partial<Record<TemplateKey, string>>> {
  const now = Date.now()
  const age = cachedIds ? now - cachedIds.at : Number.NaN
  if (cachedIds && age >= 0 && age < idsTtlMs()) return cachedIds.ids
  const doc = await collection('app_config').get(TEMPLATES_CONFIG_ID)
  const raw = (doc?.ids ?? {}) as Record<string, unknown>
  const ids: Partial<Record<TemplateKey, string>> = {}
  for (const [key, id] of Object.entries(raw)) {
    if (isTemplateKey(key) && typeof id === 'string' && id.trim()) ids[key] = id.trim()
  }
  cachedIds = { at: now, ids }
  return ids
}

// ---- shared pieces of a send --------------------------------------------------------------------

/** The page with `msg=<log id>`, so opening the message is attributed to it. */
export function pageWithMsg(page: string, logId: string): string {
  return `${page}${page.includes('?') ? '&' : '?'}msg=${encodeURIComponent(logId)}`
}

function miniprogramState(): 'developer' | 'trial' | 'formal' {
  const state = process.env.NOTIFY_MINIPROGRAM_STATE
  return state === 'developer' || state === 'trial' ? state : 'formal'
}

function newLogId(template: string): string {
  return `${template}:${Date.now().toString(36)}${randomBytes(6).toString('hex')}`
}

interface Prepared {
  template: TemplateKey
  templateId: string
  data: Record<string, { value: string }>
  page: string
}

/** Step 1: template, fields, id. Nothing is written. */
async function prepare(template: string, data: Record<string, unknown>, page?: string): Promise<Prepared | Extract<SendOutcome, { status: 'rejected' }>> {
  if (!isTemplateKey(template)) return { status: 'rejected', reason: 'unknown_template', message: `No template "${template.slice(0, 64)}" in the registry.` }
  const formatted = formatData(template, data)
  if (!formatted.ok) {
    const { field, reason } = formatted.issue
    return { status: 'rejected', reason: 'invalid_field', field, message: `Field ${field} ${reason}.` }
  }
  const templateId = (await templateIds())[template]
  if (!templateId) return { status: 'rejected', reason: 'not_configured', message: `Template ${template} has no id in app_config/templates.` }
  return { template, templateId, data: formatted.data, page: page ?? templates[template].page }
}

type SendResult = { ok: true } | { ok: false; errCode: number; message: string }

async function callWeChat(openid: string, prepared: Prepared, logId: string): Promise<SendResult> {
  try {
    await sendSubscribeMessage({
      touser: openid,
      templateId: prepared.templateId,
      page: pageWithMsg(prepared.page, logId),
      data: prepared.data,
      miniprogramState: miniprogramState(),
    })
    return { ok: true }
  } catch (err) {
    const e = err as { errCode?: unknown; errMsg?: unknown; message?: unknown }
    const errCode = typeof e.errCode === 'number' ? e.errCode : -1
    return { ok: false, errCode, message: String(e.errMsg ?? e.message ?? 'send failed').slice(0, 200) }
  }
}

function logDoc(id: string, openid: string, prepared: Prepared, now: Date): MessageLogDoc {
  return { _id: id, openid, template: prepared.template, status: 'sending', attempts: 1, page: prepared.page, createdAt: now }
}

/** Reserves the log document; a failed earlier attempt of the same reason may be taken again. */
async function reserve(doc: MessageLogDoc): Promise<boolean> {
  try {
    await collection('message_log').add(doc)
    return true
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err
  }
  const _ = command()
  const retaken = await collection('message_log').updateWhere(
    { _id: doc._id, status: 'failed' },
    { status: 'sending', attempts: _.inc(1), error: _.remove(), errCode: _.remove() },
  )
  return retaken > 0
}

// ---- one message --------------------------------------------------------------------------------

/**
 * Sends template `K` to one user, spending one of their accepts. DB round trips on success: 3
 * (quota, log reservation, log result), plus 1 to read the template ids every 30 s per instance.
 */
export async function sendTemplate<K extends TemplateKey>(req: SendRequest<K>): Promise<SendOutcome> {
  return send(req.openid, req.template, req.data as Record<string, unknown>, req.reason, req.page)
}

/** `sendTemplate` for a template key and data known only at run time (the admin test send). */
export async function send(openid: string, template: string, data: Record<string, unknown>, reason?: string, page?: string): Promise<SendOutcome> {
  const prepared = await prepare(template, data, page)
  if ('status' in prepared) return prepared
  const _ = command()
  const subscriptions = collection('subscriptions')
  const subId = subscriptionId(openid, prepared.template)
  const now = new Date()
  const logs = collection('message_log')

  const taken = await subscriptions.updateWhere({ _id: subId, quota: _.gt(0) }, { quota: _.inc(-1), updatedAt: now })
  if (taken === 0) {
    // Logged with a key of its own: a refusal must not block a later send of the same reason.
    const logId = newLogId(prepared.template)
    await logs.add({ ...logDoc(logId, openid, prepared, now), status: 'refused', error: 'no_quota', ...(reason ? { reason } : {}) })
    return { status: 'no_quota', logId }
  }
  const logId = reason ?? newLogId(prepared.template)
  if (!(await reserve(logDoc(logId, openid, prepared, now)))) {
    await subscriptions.update(subId, { quota: _.inc(1) })
    return { status: 'rejected', reason: 'duplicate', message: `"${logId}" was sent already.` }
  }
  const result = await callWeChat(openid, prepared, logId)
  if (result.ok) {
    await logs.update(logId, { status: 'sent', sentAt: new Date() })
    return { status: 'sent', logId }
  }
  await Promise.all([
    subscriptions.update(subId, { quota: result.errCode === ERR_NO_SUBSCRIPTION ? 0 : _.inc(1) }),
    logs.update(logId, { status: 'failed', errCode: result.errCode, error: result.message }),
  ])
  return { status: 'failed', logId, errCode: result.errCode, message: result.message }
}

// ---- many messages of one template, for timers --------------------------------------------------

export interface BatchMessage<K extends TemplateKey> {
  openid: string
  data: TemplateData<K>
  reason: string
}

export interface BatchResult {
  sent: number
  /** No quota left, or handled by another run already. */
  skipped: number
  /** Field values that could not be made valid. */
  invalid: number
  failed: number
  /** WeChat answered 43101: the quota is set to 0. */
  exhausted: number
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/**
 * Sends one template to many users, once per `run` (e.g. the day of a daily reminder): the quota of
 * all of them is taken by one conditional update that also marks the subscriptions done for the
 * run and by whom (`runId`), so concurrent or repeated runs each send to a user at most once. About
 * 5 DB round trips per batch, whatever its size (up to the 1000 a query returns).
 */
export async function sendBatch<K extends TemplateKey>(req: { template: K; run: string; runId: string; messages: BatchMessage<K>[] }): Promise<BatchResult> {
  const result: BatchResult = { sent: 0, skipped: 0, invalid: 0, failed: 0, exhausted: 0 }
  const ready: { message: BatchMessage<K>; prepared: Prepared }[] = []
  for (const message of req.messages) {
    const prepared = await prepare(req.template, message.data as Record<string, unknown>)
    if ('status' in prepared) {
      if (prepared.reason === 'not_configured') throw new Error(prepared.message)
      result.invalid++
    } else ready.push({ message, prepared })
  }
  if (ready.length === 0) return result
  const _ = command()
  const subscriptions = collection('subscriptions')
  const logs = collection('message_log')
  const now = new Date()
  const subIds = ready.map((r) => subscriptionId(r.message.openid, req.template))
  await subscriptions.updateWhere(
    { _id: _.in(subIds), quota: _.gt(0), doneFor: _.neq(req.run) },
    { quota: _.inc(-1), doneFor: req.run, doneBy: req.runId, updatedAt: now },
  )
  const won = new Set(
    (await subscriptions.find({ _id: _.in(subIds), doneBy: req.runId }, { limit: 1000, fields: { _id: true } })).map((s) => s._id),
  )
  const mine = ready.filter((r) => won.has(subscriptionId(r.message.openid, req.template)))
  result.skipped += ready.length - mine.length
  if (mine.length === 0) return result

  // Reserve every log document at once; should a reason exist already, fall back to one by one.
  let reserved = mine
  try {
    await logs.addMany(mine.map((r) => logDoc(r.message.reason, r.message.openid, r.prepared, now)))
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err
    const kept: typeof mine = []
    for (const r of mine) if (await reserve(logDoc(r.message.reason, r.message.openid, r.prepared, now))) kept.push(r)
    const lost = mine.filter((r) => !kept.includes(r)).map((r) => subscriptionId(r.message.openid, req.template))
    if (lost.length) await subscriptions.updateWhere({ _id: _.in(lost) }, { quota: _.inc(1) })
    result.skipped += lost.length
    reserved = kept
  }

  const sent: string[] = []
  const failures = new Map<number, { subs: string[]; logs: string[]; message: string }>()
  await eachLimited(reserved, 16, async ({ message, prepared }) => {
    const outcome = await callWeChat(message.openid, prepared, message.reason)
    if (outcome.ok) {
      sent.push(message.reason)
      return
    }
    const group = failures.get(outcome.errCode) ?? { subs: [], logs: [], message: outcome.message }
    group.subs.push(subscriptionId(message.openid, req.template))
    group.logs.push(message.reason)
    failures.set(outcome.errCode, group)
  })
  const writes: Promise<unknown>[] = []
  if (sent.length) writes.push(logs.updateWhere({ _id: _.in(sent) }, { status: 'sent', sentAt: new Date() }))
  for (const [errCode, group] of failures) {
    const exhausted = errCode === ERR_NO_SUBSCRIPTION
    writes.push(subscriptions.updateWhere({ _id: _.in(group.subs) }, { quota: exhausted ? 0 : _.inc(1) }))
    writes.push(logs.updateWhere({ _id: _.in(group.logs) }, { status: 'failed', errCode, error: group.message }))
    if (exhausted) result.exhausted += group.subs.length
    else result.failed += group.subs.length
  }
  await Promise.all(writes)
  result.sent += sent.length
  return result
}
