/**
 * The collection manifest is the single source of truth: functions may only touch listed
 * collections, the local cloud creates exactly those, and docs/collections.md matches it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { collectionNames } from '../../cloudfunctions/_shared/collections'
import { COLLECTIONS_DOC, renderCollectionsDoc } from '../../tools/docs-collections'
import { startCloud, type TestCloud } from '../helpers/local-cloud'

const FUNCTIONS = path.resolve(__dirname, '../../cloudfunctions')

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) return sources(full)
    return name.endsWith('.ts') ? [full] : []
  })
}

test('every collection named in function code is in the manifest', () => {
  const used = new Set<string>()
  for (const file of sources(FUNCTIONS)) {
    for (const match of readFileSync(file, 'utf8').matchAll(/collection\(\s*['"`]([^'"`]+)['"`]\s*\)/g)) used.add(match[1]!)
  }
  expect(used.size).toBeGreaterThan(0)
  expect([...used].filter((name) => !collectionNames.includes(name as never))).toEqual([])
})

test('docs/collections.md is generated from the manifest (run `npm run docs:collections`)', () => {
  expect(readFileSync(COLLECTIONS_DOC, 'utf8')).toBe(renderCollectionsDoc())
})

describe('local cloud', () => {
  let t: TestCloud
  beforeAll(async () => {
    t = await startCloud()
  })
  afterAll(() => t.stop())

  test('creates every manifest collection', () => {
    expect(t.cloud.store.listCollections()).toEqual(expect.arrayContaining(collectionNames))
    for (const name of collectionNames) expect(t.cloud.store.hasCollection(name)).toBe(true)
  })

  test('answers a collection outside the manifest with DATABASE_COLLECTION_NOT_EXIST', async () => {
    const res = await fetch(`${t.url}/admin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'database.insertDocument', collectionName: 'not_in_manifest', data: ['{"a":1}'] }),
    })
    expect(await res.json()).toMatchObject({ code: 'DATABASE_COLLECTION_NOT_EXIST' })
    expect(t.cloud.store.hasCollection('not_in_manifest')).toBe(false)
  })
})
