/**
 * `feedback`: users send feedback with screenshots; admins answer it from an inbox.
 *
 * Screenshots: the device uploads them to `feedback/<openid>/…` before calling `submit`. The function
 * trusts no file ID: each must lie under the caller's own folder, exist, and be at most 1 MB (checked
 * with the storage API, without downloading). Whatever `submit` refuses — bad input, a flagged text,
 * the hourly limit, a bad file — the caller's own uploads named in the call are deleted before the
 * answer goes back, so a refused submission leaves no orphan files (files of other users are never
 * touched). Text and contact go through security.msgSecCheck before anything is stored.
 *
 * Environment: FEEDBACK_HOURLY_LIMIT (5 submissions per user per rolling hour).
 */
import { isAdmin } from '../_shared/admin'
import { collection, command, deleteFiles, fileSizes, msgSecCheck, SecScene, tempFileUrls, wxContext } from '../_shared/cloud'
import type { FeedbackDoc } from '../_shared/models'
import { releaseSlot, takeSlot } from '../_shared/rate-limit'
import { AppError, createRouter, type Main } from '../_shared/router'
import {
  FEEDBACK_CATEGORIES,
  FEEDBACK_STATUSES,
  feedbackActions,
  type FeedbackItem,
  type FeedbackOutputs,
  IMAGE_MAX_BYTES,
  type InboxItem,
  type NotifyOutcome,
} from './api'
import { notifyReply } from './notify'

const PAGE_SIZE = 20

/**
 * How long a taken slot counts without its feedback stored: longer than the function can run (its
 * timeout is 10 s, config.json), so a slot of a call still running is never reclaimed. After it, a
 * slot whose call died or timed out before the insert no longer counts.
 */
const RESERVATION_MS = 60_000

function hourlyLimit(): number {
  const value = Number(process.env.FEEDBACK_HOURLY_LIMIT)
  return Number.isInteger(value) && value > 0 ? value : 5
}

/** The cloud path of a file ID (`cloud://<env>.<bucket>/<path>`), or null. */
function cloudPathOf(fileId: string): string | null {
  const match = /^cloud:\/\/[^/]+\/(.+)$/.exec(fileId)
  const path = match?.[1]
  if (!path || path.split('/').some((p) => p === '' || p === '.' || p === '..')) return null
  return path
}

/** Only files in the caller's own folder count as theirs (the device uploads nowhere else). */
function isOwnUpload(fileId: string, openid: string): boolean {
  return cloudPathOf(fileId)?.startsWith(`feedback/${openid}/`) ?? false
}

async function requireAdmin(openid: string): Promise<void> {
  if (!(await isAdmin(openid))) throw new AppError('FORBIDDEN', '只有管理员可以处理反馈。')
}

/** Checks every screenshot: the caller's, existing, at most 1 MB. */
async function checkImages(images: string[], openid: string): Promise<void> {
  if (new Set(images).size !== images.length) throw new AppError('INVALID_INPUT', '同一张截图上传了两次。')
  if (images.some((id) => !isOwnUpload(id, openid))) throw new AppError('INVALID_INPUT', '截图不是你上传的文件，请重新选择。')
  const sizes = await fileSizes(images)
  if (sizes.some((size) => size === null)) throw new AppError('INVALID_INPUT', '有截图没有上传成功，请重新选择。')
  if (sizes.some((size) => (size ?? 0) > IMAGE_MAX_BYTES)) throw new AppError('INVALID_INPUT', '每张截图不能超过 1 MB。')
}

async function checkText(content: string, openid: string): Promise<void> {
  // Feedback is a user's comment on the app: the 评论 scene.
  const result = await msgSecCheck({ content, openid, scene: SecScene.comment })
  if (result.suggest === 'risky') throw new AppError('CONTENT_REJECTED', '内容未通过安全检查，请修改后再提交。')
}

/** Keyset cursor on (createdAt, _id), newest first. */
interface Cursor {
  t: number
  id: string
}

function encodeCursor(doc: Pick<FeedbackDoc, 'createdAt' | '_id'>): string {
  return Buffer.from(JSON.stringify({ t: new Date(doc.createdAt).getTime(), id: doc._id } satisfies Cursor)).toString('base64url')
}

function afterCursor(text: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    value = null
  }
  const cursor = value as Cursor | null
  if (!cursor || !Number.isSafeInteger(cursor.t) || typeof cursor.id !== 'string') {
    throw new AppError('INVALID_INPUT', 'The cursor is malformed; start again from the first page.')
  }
  const _ = command()
  const t = new Date(cursor.t)
  return _.or([{ createdAt: _.lt(t) }, { createdAt: t, _id: _.lt(cursor.id) }]) as never
}

/** One page of feedback matching `filters`, newest first; one database round trip plus one storage call for the images. */
async function page(filters: Record<string, unknown>, cursor: string | undefined): Promise<{ docs: FeedbackDoc[]; urls: Map<string, string>; nextCursor: string | null }> {
  const conditions: Record<string, unknown>[] = Object.entries(filters)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ({ [k]: v }))
  if (cursor) conditions.push(afterCursor(cursor))
  const query = conditions.length === 0 ? {} : conditions.length === 1 ? conditions[0]! : (command().and(conditions) as never)
  const found = await collection('feedback').find(query, { orderBy: [['createdAt', 'desc'], ['_id', 'desc']], limit: PAGE_SIZE + 1 })
  const docs = found.slice(0, PAGE_SIZE)
  const images = docs.flatMap((d) => d.images)
  const urls = await tempFileUrls(images)
  const last = docs[docs.length - 1]
  return { docs, urls: new Map(images.map((id, i) => [id, urls[i] ?? ''])), nextCursor: found.length > PAGE_SIZE && last ? encodeCursor(last) : null }
}

function toItem(doc: FeedbackDoc, urls: Map<string, string>): FeedbackItem {
  return {
    id: doc._id,
    category: doc.category,
    text: doc.text,
    images: doc.images.map((fileId) => ({ fileId, url: urls.get(fileId) ?? '' })),
    ...(doc.contact ? { contact: doc.contact } : {}),
    status: doc.status,
    createdAt: new Date(doc.createdAt).toISOString(),
    ...(doc.reply ? { reply: { text: doc.reply.text, at: new Date(doc.reply.at).toISOString(), notify: doc.reply.notify } } : {}),
  }
}

function toInboxItem(doc: FeedbackDoc, urls: Map<string, string>): InboxItem {
  return { ...toItem(doc, urls), openid: doc.openid, context: doc.context }
}

/**
 * Deletes the caller's loose uploads among `images`: files in their own folder that no stored
 * feedback of theirs uses (an old screenshot named again in a refused call must survive).
 */
async function discardUploads(images: string[], openid: string): Promise<number> {
  const own = [...new Set(images.filter((id) => isOwnUpload(id, openid)))]
  if (own.length === 0) return 0
  const used = await collection('feedback').find({ openid, images: command().in(own) }, { fields: { images: true }, limit: own.length })
  const kept = new Set(used.flatMap((d) => d.images))
  return deleteFiles(own.filter((id) => !kept.has(id)))
}

const router = createRouter<typeof feedbackActions, FeedbackOutputs>(feedbackActions, {
  /**
   * Two database round trips (the hourly slot, the insert; +1 to give the slot back when refused);
   * storage and msgSecCheck calls besides.
   */
  async submit({ category, text, images, contact, context }, { openid }) {
    const now = new Date()
    // Taken first, so a flood is refused before any storage or content-check call; race-free. The
    // slot is a reservation the insert confirms (the feedback's _id is the slot's token): should
    // this call die or time out before the insert, the slot stops counting after RESERVATION_MS.
    const slot = await takeSlot(
      { id: `feedback:${openid}`, limit: hourlyLimit(), windowMs: 3600_000, confirm: { collection: 'feedback', withinMs: RESERVATION_MS } },
      now,
    )
    if (!slot) throw new AppError('RATE_LIMITED', '提交太频繁了，请过一会儿再试。')
    try {
      await checkImages(images, openid)
      await checkText(contact ? `${text}\n${contact}` : text, openid)
      const doc: Omit<FeedbackDoc, '_id'> = {
        openid,
        category,
        text,
        images,
        ...(contact ? { contact } : {}),
        context,
        status: 'open',
        createdAt: now,
        updatedAt: now,
      }
      await collection('feedback').add({ _id: slot.token, ...doc })
      return { id: slot.token }
    } catch (err) {
      // A refused submission does not count against the limit.
      await releaseSlot(slot).catch((e: unknown) => console.error('[submit] could not give the slot back', e))
      throw err
    }
  },

  async discard({ images }, { openid }) {
    return { deleted: await discardUploads(images, openid) }
  },

  async mine({ cursor }, { openid }) {
    const { docs, urls, nextCursor } = await page({ openid }, cursor)
    return { items: docs.map((d) => toItem(d, urls)), nextCursor }
  },

  async inbox({ status, category, cursor }, { openid }) {
    await requireAdmin(openid)
    const { docs, urls, nextCursor } = await page({ status, category }, cursor)
    return { items: docs.map((d) => toInboxItem(d, urls)), nextCursor }
  },

  async reply({ id, text }, { openid }) {
    await requireAdmin(openid)
    const doc = await collection('feedback').get(id)
    if (!doc) throw new AppError('NOT_FOUND', '这条反馈不存在。')
    const now = new Date()
    const notify: NotifyOutcome = await notifyReply(doc, text, now)
    await collection('feedback').update(id, { status: 'replied', updatedAt: now, reply: { text, at: now, by: openid, notify } })
    return { id, status: 'replied', notify }
  },

  async close({ id }, { openid }) {
    await requireAdmin(openid)
    const now = new Date()
    const updated = await collection('feedback').update(id, { status: 'closed', updatedAt: now, closedAt: now, closedBy: openid })
    if (updated === 0 && !(await collection('feedback').get(id, { _id: true }))) throw new AppError('NOT_FOUND', '这条反馈不存在。')
    return { id, status: 'closed' }
  },

  async stats(_input, { openid }) {
    await requireAdmin(openid)
    const rows = await collection('feedback').aggregate<{ _id: { status: string; category: string }; n: number }>([
      { $group: { _id: { status: '$status', category: '$category' }, n: { $sum: 1 } } },
      { $limit: 100 },
    ])
    const byStatus = Object.fromEntries(FEEDBACK_STATUSES.map((s) => [s, 0])) as FeedbackOutputs['stats']['byStatus']
    const byCategory = Object.fromEntries(FEEDBACK_CATEGORIES.map((c) => [c, 0])) as FeedbackOutputs['stats']['byCategory']
    let total = 0
    for (const row of rows) {
      total += row.n
      if (row._id.status in byStatus) byStatus[row._id.status as keyof typeof byStatus] += row.n
      if (row._id.category in byCategory) byCategory[row._id.category as keyof typeof byCategory] += row.n
    }
    return { total, byStatus, byCategory }
  },
})

/** File IDs named in a `submit` event, read loosely (the event may be what the schema refused). */
function imagesIn(event: unknown): string[] {
  const data = (event as { data?: { images?: unknown } } | null)?.data
  const images = Array.isArray(data?.images) ? data.images : []
  // Bounded: a refused call must not make the function delete without end.
  return images.slice(0, 10).filter((id): id is string => typeof id === 'string')
}

/** The router, plus the cleanup rule: a refused `submit` deletes the caller's uploads it named. */
export const main: Main = async (event, context) => {
  const result = await router(event, context)
  if (!result.ok && (event as { action?: unknown } | null)?.action === 'submit') {
    const openid = wxContext().openid
    const images = imagesIn(event)
    if (openid && images.length > 0) {
      try {
        await discardUploads(images, openid)
      } catch (err) {
        console.error('[submit] could not delete refused uploads', images, err)
      }
    }
  }
  return result
}
