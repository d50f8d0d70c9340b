/**
 * Contract of the `content` function (the demo app's guides): input schemas and output types,
 * shared with the mini-program's client core.
 */
import * as z from 'zod/v4'
import type { ApiOf } from '../_shared/contract'
import type { GuideBlock } from '../_shared/models'

const slug = z.string().regex(/^[a-z0-9-]{1,48}$/, 'Expected a slug such as "kitchen-grease".')

export const PAGE_SIZE_DEFAULT = 10
export const PAGE_SIZE_MAX = 30

export const contentActions = {
  categories: { input: z.strictObject({}), auth: 'public' },
  list: {
    input: z.strictObject({
      category: slug.optional(),
      /** Opaque cursor from the previous page's `nextCursor`. */
      cursor: z.string().max(200).optional(),
      limit: z.number().int().min(1).max(PAGE_SIZE_MAX).default(PAGE_SIZE_DEFAULT),
    }),
    auth: 'public',
  },
  /** The full guide; counts one view. */
  detail: { input: z.strictObject({ id: slug }), auth: 'public' },
} as const

export interface Category {
  id: string
  name: string
}

export interface GuideSummary {
  id: string
  title: string
  summary: string
  category: string
  tags: string[]
  readMinutes: number
  views: number
  /** ISO instant. */
  publishedAt: string
}

export interface GuideDetail extends GuideSummary {
  body: GuideBlock[]
}

export interface ContentOutputs {
  categories: { items: Category[] }
  list: { items: GuideSummary[]; nextCursor: string | null }
  detail: GuideDetail
}

export type ContentApi = ApiOf<typeof contentActions, ContentOutputs>
