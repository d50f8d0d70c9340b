import { collection, command } from '../_shared/cloud'
import { AppError, createRouter } from '../_shared/router'
import { contentActions, type ContentOutputs, type GuideDetail } from './api'
import { decodeCursor, NEWEST_FIRST, pageOf, toSummary } from './guides'

const guides = () => collection('guides')

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
    const docs = await guides().find(query, { orderBy: NEWEST_FIRST, limit: limit + 1, fields: { body: false } })
    return pageOf(docs, limit)
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
