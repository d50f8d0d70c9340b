/**
 * The local cloud's promise to users: a script of their own, using the unmodified wx-server-sdk
 * with nothing but the environment variables `npm start` prints, talks to it.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startCloud, type TestCloud } from '../helpers/local-cloud'

let t: TestCloud
beforeAll(async () => {
  t = await startCloud({ seed: true })
})
afterAll(() => t.stop())

test('a separate Node process with only the printed environment reads the database and calls a function', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sdk-script-'))
  const script = path.join(dir, 'script.js')
  writeFileSync(
    script,
    `const cloud = require(${JSON.stringify(require.resolve('wx-server-sdk'))})
cloud.init({ env: cloud.DYNAMIC_CURRENT_ENV })
const db = cloud.database()
;(async () => {
  const guides = await db.collection('guides').where({ category: 'health' }).orderBy('publishedAt', 'desc').limit(2).get()
  const count = await db.collection('guides').count()
  const called = await cloud.callFunction({ name: 'content', data: { action: 'categories' } })
  console.log(JSON.stringify({ ids: guides.data.map((g) => g._id), total: count.total, categories: called.result.data.items.length }))
})().catch((err) => { console.error(err); process.exit(1) })
`,
  )
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...t.cloud.sdkEnv() }
  // Asynchronous: the local cloud answering the script runs in this very process.
  const run = await promisify(execFile)(process.execPath, [script], { env, encoding: 'utf8', timeout: 30_000 }).finally(() =>
    rmSync(dir, { recursive: true, force: true }),
  )
  expect(run.stderr).toBe('')
  const out = JSON.parse(run.stdout.trim()) as { ids: string[]; total: number; categories: number }
  const health = t.cloud.store.find('guides', { query: { category: 'health' }, order: { publishedAt: -1 }, limit: 2 }).map((g) => g._id)
  expect(out).toEqual({ ids: health, total: t.cloud.store.count('guides', {}), categories: 5 })
  expect(t.cloud.ledger.external.db).toMatchObject({ getDocument: 1, calculateDocument: 1 })
})
