/**
 * The storage rule of the manifest (collections.ts `storageRule`, what `npm run deploy` sets on the
 * bucket) enforced on clients by the local cloud as the cloud enforces it: user B cannot overwrite
 * A's screenshot (which the admin inbox would then serve), A's invite code image, or write outside
 * the upload folders; a client reads only its own uploads. Functions (the server SDK) are not bound.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { storageRule } from '../../cloudfunctions/_shared/collections'
import { allows, checkRule } from '../../tools/local-cloud/protocol/storage-rules'
import { startCloud, type TestCloud } from '../helpers/local-cloud'

const A = 'o-rules-alice'
const B = 'o-rules-bob'

let t: TestCloud
beforeAll(async () => {
  t = await startCloud({ functionsDir: `${__dirname}/../fixtures/cloudfunctions` })
})
afterAll(() => t.stop())

/** wx.uploadFile in local mode: the device's upload route, the caller in x-wx-openid. */
async function upload(openid: string | undefined, cloudPath: string, bytes: string): Promise<{ status: number; code?: string; fileID?: string }> {
  const form = new FormData()
  form.append('cloudPath', cloudPath)
  form.append('file', new Blob([Buffer.from(bytes)], { type: 'image/jpeg' }), 'x.jpg')
  const res = await fetch(`${t.url}/storage/client-upload`, { method: 'POST', body: form, headers: openid ? { 'x-wx-openid': openid } : {} })
  const body = (await res.json()) as { fileID?: string; error?: { code: string } }
  return { status: res.status, ...(body.error ? { code: body.error.code } : {}), ...(body.fileID ? { fileID: body.fileID } : {}) }
}

/** wx.cloud.getTempFileURL in local mode. */
async function tempUrls(openid: string | undefined, fileList: string[]): Promise<{ fileID: string; tempFileURL: string; errMsg: string }[]> {
  const res = await fetch(`${t.url}/storage/client-temp-url`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(openid ? { 'x-wx-openid': openid } : {}) },
    body: JSON.stringify({ fileList }),
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { fileList: { fileID: string; tempFileURL: string; errMsg: string }[] }).fileList
}

const bytesOf = (cloudPath: string) => readFileSync(t.cloud.storage.diskPath(cloudPath), 'utf8')

describe('writes', () => {
  test("B cannot overwrite A's feedback screenshot: 403, and A's bytes stay", async () => {
    const path = `feedback/${A}/shot.jpg`
    expect((await upload(A, path, 'alice')).status).toBe(200)
    expect(await upload(B, path, 'bob')).toMatchObject({ status: 403, code: 'STORAGE_PERMISSION_DENIED' })
    expect(bytesOf(path)).toBe('alice')
    // A may replace their own file.
    expect((await upload(A, path, 'alice v2')).status).toBe(200)
    expect(bytesOf(path)).toBe('alice v2')
  })

  test("B cannot overwrite a file a function wrote (A's invite code image), nor write outside the upload folders", async () => {
    const qr = 'invite-codes/ABC123.png'
    t.cloud.storage.ensureDir(qr)
    writeFileSync(t.cloud.storage.diskPath(qr), 'qr')
    expect(await upload(B, qr, 'bob')).toMatchObject({ status: 403, code: 'STORAGE_PERMISSION_DENIED' })
    expect(bytesOf(qr)).toBe('qr')
    for (const path of ['invite-codes/NEW.png', `other/${B}/x.jpg`, `feedback/${B}/deeper/x.jpg`, 'x.jpg']) {
      expect([path, (await upload(B, path, 'bob')).status]).toEqual([path, 403])
      expect(t.cloud.storage.exists(path)).toBe(false)
    }
    expect((await upload(B, `avatars/${B}/me.png`, 'bob')).status).toBe(200)
  })

  test('without a caller nothing is written', async () => {
    expect((await upload(undefined, 'feedback/anyone/x.jpg', 'x')).status).toBe(401)
    expect(t.cloud.storage.exists('feedback/anyone/x.jpg')).toBe(false)
  })
})

describe('reads', () => {
  test('a client gets temporary URLs for its own uploads only; not for another user\'s, not without a caller', async () => {
    const mine = (await upload(A, `feedback/${A}/read.jpg`, 'alice read')).fileID!
    const [own] = await tempUrls(A, [mine])
    expect(own!.errMsg).toBe('ok')
    expect(await (await fetch(own!.tempFileURL)).text()).toBe('alice read')
    expect((await tempUrls(B, [mine]))[0]).toMatchObject({ tempFileURL: '', errMsg: 'STORAGE_PERMISSION_DENIED' })
    expect((await tempUrls(undefined, [mine]))[0]).toMatchObject({ tempFileURL: '', errMsg: 'STORAGE_PERMISSION_DENIED' })
    // A file a function wrote is readable by no client (functions hand out temporary URLs themselves).
    const qr = t.cloud.storage.fileId('invite-codes/ABC123.png')
    expect((await tempUrls(A, [qr]))[0]!.errMsg).toBe('STORAGE_PERMISSION_DENIED')
  })
})

describe('the rule itself', () => {
  const ctx = (openid: string | null, owner: string, path: string) => ({ auth: openid ? { openid } : null, resource: { openid: owner, path } })

  test("the manifest's rule parses, and says what the tests above rely on", () => {
    expect(() => checkRule(storageRule)).not.toThrow()
    expect(allows(storageRule, 'write', ctx(A, A, `feedback/${A}/x.jpg`))).toBe(true)
    expect(allows(storageRule, 'write', ctx(B, A, `feedback/${A}/x.jpg`))).toBe(false)
    expect(allows(storageRule, 'write', ctx(B, B, 'invite-codes/x.png'))).toBe(false)
    expect(allows(storageRule, 'write', ctx(null, '', 'feedback/x/y.jpg'))).toBe(false)
    expect(allows(storageRule, 'read', ctx(A, A, 'feedback/a/b.jpg'))).toBe(true)
    expect(allows(storageRule, 'read', ctx(B, A, 'feedback/a/b.jpg'))).toBe(false)
    // No openid on either side is not a match (auth is null).
    expect(allows(storageRule, 'read', ctx(null, '', 'feedback/a/b.jpg'))).toBe(false)
  })

  test('the documented expression forms: booleans, !=, ||, !, parentheses, regex test; errors deny; bad syntax throws', () => {
    expect(allows({ read: true, write: false }, 'read', ctx(null, '', 'a'))).toBe(true)
    expect(allows({ read: true, write: false }, 'write', ctx(A, A, 'a'))).toBe(false)
    const rule = { read: "(auth.openid == 'x' || /^pub\\//.test(resource.path) == true) && !(resource.path == 'pub/secret')", write: 'auth != null' }
    expect(allows(rule, 'read', ctx('x', '', 'priv/a'))).toBe(true)
    expect(allows(rule, 'read', ctx('y', '', 'pub/a'))).toBe(true)
    expect(allows(rule, 'read', ctx('y', '', 'pub/secret'))).toBe(false)
    // auth.openid of a null auth is an error: denied, as the cloud does.
    expect(allows(rule, 'read', ctx(null, '', 'priv/a'))).toBe(false)
    expect(() => checkRule({ read: 'auth.openid ==', write: false })).toThrow(/expected a value/)
    expect(() => checkRule({ read: 'auth.openid = 1', write: false })).toThrow(/unexpected text/)
  })
})
