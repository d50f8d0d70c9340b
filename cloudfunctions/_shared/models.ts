/**
 * Document shapes stored in each collection of the manifest. Dates are real `Date` values in the
 * database (serverDate() on writes); they cross the function boundary as ISO strings.
 */
import type { CollectionName } from './collections'

export interface UserDoc {
  _id: string
  openid: string
  appid: string
  unionid?: string
  nickname: string
  avatarUrl: string
  firstSeenAt: Date
  /** Asia/Shanghai calendar day of the first login, `YYYY-MM-DD`; the "new user" day in metrics. */
  firstSeenDay: string
  lastSeenAt: Date
  lastSeenDay: string
  updatedAt: Date
}

export interface CategoryDoc {
  _id: string
  name: string
  order: number
}

/** One block of a guide's body, rendered natively (no rich-text HTML). */
export type GuideBlock =
  | { type: 'p'; text: string }
  | { type: 'h'; text: string }
  | { type: 'tip'; text: string }
  | { type: 'steps'; items: string[] }

export interface GuideDoc {
  _id: string
  title: string
  summary: string
  category: string
  tags: string[]
  readMinutes: number
  publishedAt: Date
  body: GuideBlock[]
  views: number
}

/** Maps each manifest collection to its document type; a collection without a type fails to compile. */
export interface DocTypes {
  users: UserDoc
  categories: CategoryDoc
  guides: GuideDoc
}

type MissingTypes = Exclude<CollectionName, keyof DocTypes>
type ExtraTypes = Exclude<keyof DocTypes, CollectionName>
// Compile-time check that DocTypes and the manifest list the same collections.
export const docTypesCoverManifest: [MissingTypes, ExtraTypes] extends [never, never] ? true : never = true
