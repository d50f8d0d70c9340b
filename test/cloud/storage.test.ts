/**
 * Cloud storage through the unmodified wx-server-sdk: uploadFile, getTempFileURL (signed, expiring
 * URLs served by the local cloud), downloadFile, deleteFile, and cloud path validation.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { MAX_UPLOAD_BYTES } from '../../tools/local-cloud/protocol/storage'
import { FIXTURE_FUNCTIONS, startCloud, type TestCloud, useSdkAgainst, rejection } from '../helpers/local-cloud'

type Sdk = typeof import('wx-server-sdk')
interface TempFile {
  fileID: string
  status: number
  errMsg: string
  tempFileURL: string
  maxAge?: number
}
const ENV = 'storage-env-42'

let t: TestCloud
let cloud: Sdk
beforeAll(async () => {
  t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS, env: ENV })
  useSdkAgainst(t.cloud)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cloud = require('wx-server-sdk') as Sdk
  cloud.init({ env: cloud.DYNAMIC_CURRENT_ENV as never })
})
afterAll(async () => {
  await t.stop()
})

async function upload(cloudPath: string, bytes: Buffer): Promise<string> {
  const res = (await cloud.uploadFile({ cloudPath, fileContent: bytes })) as { fileID: string; errMsg: string }
  expect(res.errMsg).toBe('uploadFile:ok')
  return res.fileID
}

async function tempUrls(fileList: (string | { fileID: string; maxAge: number })[]): Promise<TempFile[]> {
  const res = (await cloud.getTempFileURL({ fileList } as never)) as { fileList: TempFile[] }
  return res.fileList
}

function withParam(url: string, key: string, value: (old: string) => string): string {
  const u = new URL(url)
  u.searchParams.set(key, value(u.searchParams.get(key) ?? ''))
  return u.toString()
}

test('uploadFile returns cloud://<env>.<bucket>/<path>', async () => {
  const fileID = await upload('avatars/u1/face.png', randomBytes(64))
  expect(fileID).toMatch(new RegExp(`^cloud://${ENV}\\.[a-z0-9-]+/avatars/u1/face\\.png$`))
})

test('getTempFileURL: the URL serves the same bytes with a content type from the extension', async () => {
  const cases = [
    ['docs/a.png', 'image/png'],
    ['docs/b.json', 'application/json'],
    ['docs/c.unknownext', 'application/octet-stream'],
  ] as const
  for (const [cloudPath, contentType] of cases) {
    const bytes = randomBytes(4096)
    const fileID = await upload(cloudPath, bytes)
    const [file] = await tempUrls([fileID])
    expect(file).toMatchObject({ fileID, status: 0 })
    const res = await fetch(file!.tempFileURL)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(new RegExp(`^${contentType.replace('/', '\\/')}`))
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true)
  }
})

test('paths with spaces, unicode and URL-special characters round-trip', async () => {
  const bytes = randomBytes(256)
  const fileID = await upload('报告/2024 年 #1 ?v=2 100%.txt', bytes)
  const [file] = await tempUrls([fileID])
  expect(file!.status).toBe(0)
  const res = await fetch(file!.tempFileURL)
  expect(res.status).toBe(200)
  expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true)
  expect(((await cloud.downloadFile({ fileID })) as { fileContent: Buffer }).fileContent.equals(bytes)).toBe(true)
})

test('getTempFileURL honours maxAge, and HEAD answers without a body', async () => {
  const bytes = randomBytes(100)
  const fileID = await upload('docs/maxage.bin', bytes)
  const [file] = await tempUrls([{ fileID, maxAge: 120 }])
  expect(file!.status).toBe(0)
  const expires = Number(new URL(file!.tempFileURL).searchParams.get('t'))
  expect(Math.abs(expires - (Date.now() / 1000 + 120))).toBeLessThan(5)
  const head = await fetch(file!.tempFileURL, { method: 'HEAD' })
  expect(head.status).toBe(200)
  expect(head.headers.get('content-length')).toBe('100')
})

test('downloadFile returns the bytes', async () => {
  const bytes = randomBytes(10_000)
  const fileID = await upload('dl/data.bin', bytes)
  const res = (await cloud.downloadFile({ fileID })) as { fileContent: Buffer }
  expect(Buffer.isBuffer(res.fileContent)).toBe(true)
  expect(res.fileContent.equals(bytes)).toBe(true)
})

test('a tampered or expired temporary URL -> 403', async () => {
  const cloudPath = 'private/secret.txt'
  const fileID = await upload(cloudPath, Buffer.from('secret'))
  const [file] = await tempUrls([fileID])
  const url = file!.tempFileURL
  expect((await fetch(url)).status).toBe(200)

  const tampered = [
    withParam(url, 'sign', (s) => `${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`),
    withParam(url, 't', (s) => String(Number(s) + 3600)), // extending the expiry breaks the signature
    url.replace('secret.txt', 'other.txt'), // the signature is for one path
    withParam(url, 'sign', () => ''),
  ]
  for (const bad of tampered) expect((await fetch(bad)).status).toBe(403)
  const traversal = await fetch(`${t.url}/storage/file/private%2F..%2F..%2Fdb.sqlite?t=9999999999&sign=x`)
  expect([400, 403]).toContain(traversal.status)

  // A correctly signed URL whose time is up (signed by the cloud itself, 10 s in the past).
  const expired = await fetch(t.cloud.storage.tempUrl(cloudPath, -10))
  expect(expired.status).toBe(403)
  expect(((await expired.json()) as { error: { code: string } }).error.code).toBe('REQUEST_EXPIRED')
})

test('deleteFile: then getTempFileURL reports the file missing (-503003) and fetching fails', async () => {
  const fileID = await upload('tmp/delete-me.txt', Buffer.from('bye'))
  const [before] = await tempUrls([fileID])
  const deleted = (await cloud.deleteFile({ fileList: [fileID] })) as { fileList: { fileID: string; status: number }[] }
  expect(deleted.fileList).toEqual([expect.objectContaining({ fileID, status: 0 })])

  const [after] = await tempUrls([fileID])
  expect(after).toMatchObject({ fileID, status: -503003, tempFileURL: '' })
  expect((await fetch(before!.tempFileURL)).status).toBe(404)
  expect((await rejection(cloud.downloadFile({ fileID }))).errMsg).toMatch(/^downloadFile:fail/)

  const again = (await cloud.deleteFile({ fileList: [fileID] })) as { fileList: { status: number }[] }
  expect(again.fileList[0]!.status).toBe(-503003)
})

test('a file ID of another environment is not found', async () => {
  const fileID = await upload('x/y.txt', Buffer.from('y'))
  const foreign = fileID.replace(`cloud://${ENV}.`, 'cloud://other-env.')
  const [file] = await tempUrls([foreign])
  expect(file!.status).toBe(-503003)
})

test.each(['../escape.txt', '/absolute.txt', 'a//b.txt', 'a/./b.txt', 'a/../../b.txt', 'back\\slash.txt'])(
  'invalid cloudPath %j is rejected',
  async (cloudPath) => {
    const err = await rejection(cloud.uploadFile({ cloudPath, fileContent: Buffer.from('x') }))
    expect(err.errMsg).toMatch(/^uploadFile:fail .*not a valid relative path/)
    expect(existsSync(path.join(t.dataDir, 'escape.txt'))).toBe(false)
    expect(existsSync(path.join(t.dataDir, 'b.txt'))).toBe(false)
  },
)

test('an upload PUT with a bad signature is refused with a COS-style XML error', async () => {
  const url = `${t.url}/storage/upload?path=${encodeURIComponent('forged/file.txt')}&sig=forged`
  const res = await fetch(url, { method: 'PUT', body: 'forged' })
  expect(res.status).toBe(403)
  expect(await res.text()).toContain('<Code>SignatureDoesNotMatch</Code>')
  expect(existsSync(path.join(t.dataDir, 'storage/forged/file.txt'))).toBe(false)
})

test(`an upload over ${MAX_UPLOAD_BYTES} bytes fails through the SDK and leaves no file`, async () => {
  const err = await rejection(cloud.uploadFile({ cloudPath: 'big/too-large.bin', fileContent: Buffer.alloc(MAX_UPLOAD_BYTES + 1) }))
  expect(err.errMsg).toContain('EntityTooLarge')
  const dir = path.join(t.dataDir, 'storage/big')
  expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([])
})
