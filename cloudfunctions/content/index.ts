import { collection, command } from '../_shared/cloud'
import type { GuideDoc } from '../_shared/models'
import { AppError, createRouter } from '../_shared/router'
import { contentActions, type ContentOutputs, type GuideDetail, type GuideSummary } from './api'

const guides = () => collection('guides')

/** Keyset cursor: the sort key of the last item, so paging stays stable while guides are added. */
interface Cursor {
  t: number
  id: string
}

function encodeCursor(doc: Pick<GuideDoc, 'publishedAt' | '_id'>): string {
  const cursor: Cursor = { t: new Date(doc.publishedAt).getTime(), id: doc._id }
  return Buffer.from(JSON.stringify(cursor)).toString('base64url')
}

function decodeCursor(text: string): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
    if (
      typeof value === 'object' && value !== null &&
      Number.isSafeInteger((value as Cursor).t) && typeof (value as Cursor).id === 'string'
    ) {
      return value as Cursor
    }
  } catch {
    // fall through to the typed error
  }
  throw new AppError('INVALID_INPUT', 'The cursor is malformed; start again from the first page.')
}

function toSummary(doc: Omit<GuideDoc, 'body'>): GuideSummary {
  return {
    id: doc._id,
    title: doc.title,
    summary: doc.summary,
    category: doc.category,
    tags: doc.tags,
    readMinutes: doc.readMinutes,
    views: doc.views,
    publishedAt: new Date(doc.publishedAt).toISOString(),
  }
}

export const main = createRouter<typeof contentActions, ContentOutputs>(contentActions, {
  async categories() {
    const docs = await collection('categories').find({}, { orderBy: [['order', 'asc']], limit: 100 })
    return { items: docs.map((doc) => ({ id: doc._id, name: doc.name })) }
  },

  /** One round trip per page: newest first, keyset-paged on (publishedAt, _id), body left out. */
  async list({ category, cursor, limit }) {
    const _ = command()
    const conditions: Record<string, unknown>[] = []
    if (category) conditions.push({ category })
    if (cursor) {
      const after = decodeCursor(cursor)
      const t = new Date(after.t)
      conditions.push(_.or([{ publishedAt: _.lt(t) }, { publishedAt: t, _id: _.lt(after.id) }]) as never)
    }
    const query = conditions.length === 0 ? {} : conditions.length === 1 ? conditions[0]! : (_.and(conditions) as never)
    const docs = await guides().find(query, {
      orderBy: [['publishedAt', 'desc'], ['_id', 'desc']],
      limit: limit + 1,
      fields: { body: false },
    })
    const page = docs.slice(0, limit)
    const last = page[page.length - 1]
    return {
      items: page.map(toSummary),
      nextCursor: docs.length > limit && last ? encodeCursor(last) : null,
    }
  },

  /** Two round trips: the atomic view increment (which also proves the guide exists), then the read. */
  async detail({ id }) {
    const updated = await guides().update(id, { views: command().inc(1) })
    if (updated === 0) throw new AppError('NOT_FOUND', '这篇指南不存在或已下线。')
    const doc = await guides().get(id)
    if (!doc) throw new AppError('NOT_FOUND', '这篇指南不存在或已下线。')
    const detail: GuideDetail = { ...toSummary(doc), body: doc.body }
    return detail
  },
})
