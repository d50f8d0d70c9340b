/**
 * The `content` function through the gateway with the demo seed: categories, cursor paging,
 * detail with view counting, validation, and round trips per call.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { ContentOutputs, GuideSummary } from '../../cloudfunctions/content/api'
import { callAction, callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'

interface SeedGuide {
  _id: string
  category: string
  publishedAt: string
}
const seed = JSON.parse(readFileSync(path.resolve(__dirname, '../../tools/seed/guides.json'), 'utf8')) as {
  categories: { _id: string; name: string; order: number }[]
  guides: SeedGuide[]
}

/** The expected order, computed from the seed file: newest first, ties by _id descending. */
function expectedOrder(guides: SeedGuide[]): string[] {
  return [...guides]
    .sort((a, b) => Date.parse(b.publishedAt) - Date.parse(a.publishedAt) || (a._id < b._id ? 1 : -1))
    .map((g) => g._id)
}

let t: TestCloud

beforeAll(async () => {
  t = await startCloud({ seed: true })
})
afterAll(() => t.stop())

type List = ContentOutputs['list']

async function listAll(data: Record<string, unknown>): Promise<{ pages: GuideSummary[][] }> {
  const pages: GuideSummary[][] = []
  let cursor: string | undefined
  for (;;) {
    const reply = await callAction<List>(t.url, 'content', 'list', { ...data, ...(cursor ? { cursor } : {}) }, 'o-reader')
    if (!reply.ok) throw new Error(JSON.stringify(reply.error))
    pages.push(reply.data.items)
    if (!reply.data.nextCursor) return { pages }
    cursor = reply.data.nextCursor
  }
}

test('categories come in their configured order', async () => {
  const reply = await callAction<ContentOutputs['categories']>(t.url, 'content', 'categories', {}, 'o-reader')
  const expected = [...seed.categories].sort((a, b) => a.order - b.order).map((c) => ({ id: c._id, name: c.name }))
  expect(reply).toEqual({ ok: true, data: { items: expected } })
})

test('pages through every guide newest first, without duplicates or gaps', async () => {
  const { pages } = await listAll({ limit: 10 })
  expect(pages.map((p) => p.length)).toEqual([10, 10, seed.guides.length - 20])
  expect(pages.flat().map((g) => g.id)).toEqual(expectedOrder(seed.guides))
  expect(pages.flat().every((g) => !('body' in g))).toBe(true)
})

test('filters by category and pages within it', async () => {
  const { pages } = await listAll({ category: 'health', limit: 2 })
  const expected = expectedOrder(seed.guides.filter((g) => g.category === 'health'))
  expect(pages.flat().map((g) => g.id)).toEqual(expected)
  expect(pages.every((p) => p.length <= 2)).toBe(true)
})

test('an unknown category is an empty list, not an error', async () => {
  expect(await callAction<List>(t.url, 'content', 'list', { category: 'no-such' }, 'o-reader')).toEqual({
    ok: true,
    data: { items: [], nextCursor: null },
  })
})

test('keyset paging stays correct when a newer guide is published between pages', async () => {
  const first = await callAction<List>(t.url, 'content', 'list', { limit: 5 }, 'o-reader')
  if (!first.ok || !first.data.nextCursor) throw new Error('expected a next page')
  t.cloud.store.insert('guides', [
    { _id: 'brand-new', title: '新指南', summary: '刚发布', category: 'home', tags: [], readMinutes: 1, publishedAt: new Date(), body: [], views: 0 },
  ])
  const second = await callAction<List>(t.url, 'content', 'list', { limit: 5, cursor: first.data.nextCursor }, 'o-reader')
  if (!second.ok) throw new Error('second page failed')
  expect(second.data.items.map((g) => g.id)).toEqual(expectedOrder(seed.guides).slice(5, 10))
  t.cloud.store.remove('guides', { _id: 'brand-new' }, false)
})

test('one list page costs one database round trip', async () => {
  const reply = await callGateway(t.url, 'content', { action: 'list', data: { limit: 10 } }, { openid: 'o-reader' })
  expect(reply.headers.get('x-db-ops')).toBe('getDocument=1')
})

describe('detail', () => {
  const id = seed.guides[0]!._id
  const views = () => t.cloud.store.find('guides', { query: { _id: id } })[0]?.views as number

  test('returns the whole guide and counts the view, in two round trips', async () => {
    const before = views()
    const reply = await callGateway<{ result: { ok: true; data: ContentOutputs['detail'] } }>(
      t.url,
      'content',
      { action: 'detail', data: { id } },
      { openid: 'o-reader' },
    )
    expect(reply.body.result.data).toMatchObject({ id, views: before + 1 })
    expect(reply.body.result.data.body.length).toBeGreaterThan(0)
    expect(views()).toBe(before + 1)
    expect(reply.headers.get('x-db-ops')).toBe('modifyDocument=1,getDocument=1')
  })

  test('50 concurrent views are all counted (atomic _.inc)', async () => {
    const before = views()
    const replies = await Promise.all(Array.from({ length: 50 }, () => callAction(t.url, 'content', 'detail', { id }, 'o-reader')))
    expect(replies.every((r) => r.ok)).toBe(true)
    expect(views()).toBe(before + 50)
  })

  test('a missing guide is NOT_FOUND after one round trip, and nothing is created', async () => {
    const reply = await callGateway<{ result: unknown }>(t.url, 'content', { action: 'detail', data: { id: 'no-such-guide' } }, { openid: 'o-reader' })
    expect(reply.body.result).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } })
    expect(reply.headers.get('x-db-roundtrips')).toBe('1')
    expect(t.cloud.store.count('guides', { _id: 'no-such-guide' })).toBe(0)
  })
})

describe('bad input', () => {
  test.each([
    ['a malformed cursor', { cursor: 'not-a-cursor' }],
    ['a cursor with the wrong shape', { cursor: Buffer.from('{"t":"x"}').toString('base64url') }],
    ['limit 0', { limit: 0 }],
    ['limit over the maximum', { limit: 31 }],
    ['a fractional limit', { limit: 2.5 }],
    ['a string limit', { limit: '10' }],
    ['an operator as category', { category: { $ne: null } }],
    ['a category that is not a slug', { category: 'Health; drop' }],
    ['an unknown field', { sort: 'views' }],
  ])('list rejects %s with INVALID_INPUT', async (_name, data) => {
    expect(await callAction(t.url, 'content', 'list', data, 'o-reader')).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  })

  test('detail rejects an operator as id and changes no view count', async () => {
    const total = () => t.cloud.store.find('guides', { query: {}, limit: 1000 }).reduce((n, g) => n + (g.views as number), 0)
    const before = total()
    expect(await callAction(t.url, 'content', 'detail', { id: { $ne: null } }, 'o-reader')).toMatchObject({
      ok: false,
      error: { code: 'INVALID_INPUT' },
    })
    expect(total()).toBe(before)
  })
})
