/**
 * What `npm start` checks before serving, with the sentence each mistake gets: a data folder held
 * by another local cloud (a lock), one that cannot be made, a busy port, a missing word list, an
 * unknown option; and that a stopped cloud leaves its database in one file (WAL checkpointed).
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { LocalCloud } from '../../tools/local-cloud/cloud'
import { LOCK_FILE } from '../../tools/local-cloud/preflight'
import { startCloud } from '../helpers/local-cloud'

const run = promisify(execFile)
let scratch: string
beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'preflight-'))
})
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

test('a second local cloud on the same data folder is refused, naming the folder; the folder is free again after close', async () => {
  const dataDir = path.join(scratch, 'shared')
  const first = await startCloud({ dataDir })
  await expect(startCloud({ dataDir })).rejects.toThrow(`The data folder ${dataDir} is in use by another local cloud (pid ${process.pid})`)
  await first.stop()
  expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false)
  const again = await startCloud({ dataDir })
  await again.stop()
})

test('a lock left by a process that is gone is taken over', async () => {
  const dataDir = path.join(scratch, 'stale')
  const { mkdirSync } = await import('node:fs')
  mkdirSync(dataDir)
  // pid 2^22+1 is above Linux's pid_max default: no such process.
  writeFileSync(path.join(dataDir, LOCK_FILE), JSON.stringify({ pid: 4194305 }))
  const t = await startCloud({ dataDir })
  await t.stop()
})

test('a data folder that cannot be made is named with the cause', async () => {
  const file = path.join(scratch, 'a-file')
  writeFileSync(file, '')
  await expect(startCloud({ dataDir: path.join(file, 'data') })).rejects.toThrow(`Cannot use the data folder ${path.join(file, 'data')}: a file is in the way`)
})

test('a busy port says a local cloud runs there and how to pick another port', async () => {
  const first = await startCloud()
  try {
    await expect(LocalCloud.start({ port: first.cloud.port, dataDir: path.join(scratch, 'second') })).rejects.toThrow(
      new RegExp(`Port ${first.cloud.port} on 127.0.0.1 is used by a local cloud \\(env "local"\\) already running\\. .*--port ${first.cloud.port + 1}`),
    )
    // The refused one released its data folder.
    expect(existsSync(path.join(scratch, 'second', LOCK_FILE))).toBe(false)
  } finally {
    await first.stop()
  }
})

test('a missing --words file is an error, not a content check that passes everything', async () => {
  await expect(startCloud({ wordsFile: path.join(scratch, 'nope.txt') })).rejects.toThrow(/--words .*nope\.txt: no such file/)
})

test('a stopped cloud leaves no write-ahead log behind', async () => {
  const dataDir = path.join(scratch, 'wal')
  const t = await startCloud({ dataDir })
  t.cloud.store.insert('guides', Array.from({ length: 200 }, (_, i) => ({ _id: `g${i}`, title: 'x'.repeat(500) })))
  await t.stop()
  const wal = path.join(dataDir, 'db.sqlite-wal')
  expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0)
})

test('npm start with an unknown option points at --help', async () => {
  const cli = path.resolve(__dirname, '../../tools/local-cloud/cli.ts')
  const tsx = path.resolve(__dirname, '../../node_modules/.bin/tsx')
  const failed = await run(tsx, [cli, '--prot', '8091']).then(
    () => null,
    (err: { code: number; stderr: string }) => err,
  )
  expect(failed?.code).toBe(1)
  expect(failed?.stderr).toContain("Unknown option '--prot'")
  expect(failed?.stderr).toContain('npm start -- --help')
})
