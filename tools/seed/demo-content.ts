/**
 * The demo content (tools/seed/guides.json): the guide categories and guides the home page shows.
 * Loaded into the local cloud by `npm start`, and into a WeChat Cloud environment by
 * `npm run deploy -- --seed-demo` (only when asked).
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from '../paths'

export const DEMO_CONTENT_FILE = path.join(ROOT, 'tools/seed/guides.json')

export interface DemoCategory {
  _id: string
  name: string
  order: number
  [key: string]: unknown
}

export interface DemoGuide {
  _id: string
  category: string
  publishedAt: Date
  [key: string]: unknown
}

export interface DemoContent {
  categories: DemoCategory[]
  guides: DemoGuide[]
}

/** The demo content with `publishedAt` as a Date, as the `content` function sorts on it. */
export function readDemoContent(file = DEMO_CONTENT_FILE): DemoContent {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { categories: DemoCategory[]; guides: Record<string, unknown>[] }
  return {
    categories: raw.categories,
    guides: raw.guides.map((g) => ({ ...g, _id: String(g._id), category: String(g.category), publishedAt: new Date(String(g.publishedAt)) })),
  }
}
