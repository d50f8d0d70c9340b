/**
 * Guides as the device sees them: summaries, newest first, keyset-paged. Shared by `content.list`
 * and the launch's `user.bootstrap`, which reads the first page in its one round trip.
 */
import type { GuideDoc } from '../_shared/models'
import { AppError } from '../_shared/router'
import type { ContentOutputs, GuideSummary } from './api'

/** The list's order: newest first, `_id` breaking ties (the keyset the cursor holds). */
export const NEWEST_FIRST: [keyof GuideDoc, 'desc'][] = [['publishedAt', 'desc'], ['_id', 'desc']]

/** Keyset cursor: the sort key of the last item, so paging stays stable while guides are added. */
interface Cursor {
  t: number
  id: string
}

function encodeCursor(doc: Pick<GuideDoc, 'publishedAt' | '_id'>): string {
  const cursor: Cursor = { t: new Date(doc.publishedAt).getTime(), id: doc._id }
  return Buffer.from(JSON.stringify(cursor)).toString('base64url')
}

export function decodeCursor(text: string): Cursor {
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

export function toSummary(doc: Omit<GuideDoc, 'body'>): GuideSummary {
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

/** A page from `limit + 1` documents read in list order: the extra one says whether more follow. */
export function pageOf(docs: Omit<GuideDoc, 'body'>[], limit: number): ContentOutputs['list'] {
  const page = docs.slice(0, limit)
  const last = page[page.length - 1]
  return { items: page.map(toSummary), nextCursor: docs.length > limit && last ? encodeCursor(last) : null }
}
