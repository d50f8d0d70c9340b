/**
 * Demo data: the guides and categories of tools/seed/guides.json, loaded into an empty database by
 * `npm start` (collections that already hold documents are left alone).
 */
import { createHash } from 'node:crypto'
import { templateKeys } from '../../cloudfunctions/_shared/templates'
import { DEMO_CONTENT_FILE, readDemoContent } from '../seed/demo-content'
import type { DocumentStore } from './db/store'

export const SEED_FILE = DEMO_CONTENT_FILE

/** A stable, plausible view count per guide so the demo does not look empty. */
function demoViews(id: string): number {
  return 40 + (createHash('sha256').update(id).digest().readUInt16BE(0) % 1900)
}

export function seedDemo(store: DocumentStore, file = SEED_FILE): { categories: number; guides: number } {
  const seed = readDemoContent(file)
  const loaded = { categories: 0, guides: 0 }
  if (store.count('categories', {}) === 0) {
    loaded.categories = store.insert('categories', seed.categories).length
  }
  if (store.count('guides', {}) === 0) {
    const guides = seed.guides.map((g) => ({ ...g, views: demoViews(g._id) }))
    loaded.guides = store.insert('guides', guides).length
  }
  return loaded
}

/**
 * Placeholder ids for every subscription-message template of the registry, so the subscribe
 * buttons and the reminder timer work against the local cloud (whose subscribeMessage.send records
 * messages instead of delivering them). Only when `app_config/templates` does not exist: ids set by
 * hand are kept. On WeChat Cloud the real ids come from the console (docs/subscriptions.md).
 */
export function seedTemplateIds(store: DocumentStore): number {
  if (store.count('app_config', { _id: 'templates' }) > 0) return 0
  store.insert('app_config', [{ _id: 'templates', ids: Object.fromEntries(templateKeys.map((key) => [key, `local-${key}`])) }])
  return templateKeys.length
}
