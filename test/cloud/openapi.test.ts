/**
 * Open API (`cloud.openapi.*`) through the unmodified wx-server-sdk, both from a function (where its
 * config.json permissions apply) and from a script: subscribeMessage.send, wxacode.getUnlimited
 * (a real QR code, decoded here), security.msgSecCheck (v1 and v2, default and custom word lists).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import jsQR from 'jsqr'
import { PNG } from 'pngjs'
import { DEFAULT_WORDS_FILE } from '../../tools/local-cloud/cloud'
import { callGateway, FIXTURE_FUNCTIONS, startCloud, type TestCloud, useSdkAgainst, rejection } from '../helpers/local-cloud'

type Sdk = typeof import('wx-server-sdk')
type FunctionReply = { ok: true; result: Record<string, unknown> & { errCode: number } } | { ok: false; errCode: number; errMsg: string }
interface MsgSecResult {
  errCode: number
  result: { suggest: string; label: number }
  detail: { keyword?: string }[]
}

const PAGES = { pages: ['pages/home/index', 'pages/me/index'], subpackages: [{ root: 'packages/guide/', pages: ['detail/index'] }] }

let dir: string
let t: TestCloud
let cloud: Sdk
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-test-'))
  writeFileSync(path.join(dir, 'app.json'), JSON.stringify(PAGES))
  t = await startCloud({ functionsDir: FIXTURE_FUNCTIONS, appJson: path.join(dir, 'app.json') })
  useSdkAgainst(t.cloud)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cloud = require('wx-server-sdk') as Sdk
  cloud.init({ env: cloud.DYNAMIC_CURRENT_ENV as never })
})
afterAll(async () => {
  await t.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** Calls cloud.openapi.<api>(params) inside a function (fixture `openapi` or `openapi-denied`). */
async function fromFunction(api: string, params: unknown, fn = 'openapi') {
  const reply = await callGateway<{ result: FunctionReply }>(t.url, fn, { api, params }, { openid: 'o-fn' })
  expect(reply.status).toBe(200)
  return { result: reply.body.result, requestId: reply.headers.get('x-request-id') }
}

function outbox(query: Record<string, unknown> = {}) {
  return t.cloud.store.find('_outbox', { query, limit: 1000 })
}

function decodeQr(png: Buffer): { text?: string; width: number } {
  const image = PNG.sync.read(png)
  return { text: jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data, width: image.width }
}

const message = {
  touser: 'o-subscriber',
  templateId: 'TPL_checkin_reminder',
  page: 'pages/home/index?from=reminder',
  data: { thing1: { value: '今日签到' }, number2: { value: 3 } },
  miniprogramState: 'developer',
}

describe('subscribeMessage.send', () => {
  test('from a function: stored in _outbox, errCode 0', async () => {
    const { result, requestId } = await fromFunction('subscribeMessage.send', message)
    if (!result.ok) throw new Error(result.errMsg)
    expect(result.result.errCode).toBe(0)
    const [doc] = outbox({ _id: result.result.msgid })
    expect(doc).toMatchObject({
      touser: 'o-subscriber',
      templateId: 'TPL_checkin_reminder',
      page: 'pages/home/index?from=reminder',
      data: message.data,
      miniprogramState: 'developer',
      appid: t.cloud.appid,
    })
    const { invocations } = (await (await fetch(`${t.url}/_/invocations?fn=openapi`)).json()) as { invocations: { requestId: string; openapi: Record<string, number> }[] }
    expect(invocations.find((r) => r.requestId === requestId)!.openapi).toEqual({ 'subscribeMessage.send': 1 })
  })

  test('from a script: stored in _outbox, readable through the SDK', async () => {
    const res = (await cloud.openapi.subscribeMessage.send({ ...message, touser: 'o-script' })) as { errCode: number; msgid: string }
    expect(res.errCode).toBe(0)
    const got = (await cloud.database().collection('_outbox').where({ touser: 'o-script' }).get()) as { data: Record<string, unknown>[] }
    expect(got.data).toHaveLength(1)
    expect(got.data[0]).toMatchObject({ _id: res.msgid, templateId: message.templateId, data: message.data })
  })

  test.each([
    ['an empty touser', 40003, { ...message, touser: '' }],
    ['an empty templateId', 40037, { ...message, templateId: '' }],
    ['a data field without value', 47003, { ...message, data: { thing1: {} } }],
    ['an unknown miniprogramState', 47003, { ...message, miniprogramState: 'beta' }],
  ])('%s -> errCode %i, nothing stored', async (_what, errCode, params) => {
    const before = outbox().length
    const err = await rejection(cloud.openapi.subscribeMessage.send(params as never))
    expect(err.errCode).toBe(errCode)
    const { result } = await fromFunction('subscribeMessage.send', params)
    expect(result).toMatchObject({ ok: false, errCode })
    expect(outbox().length).toBe(before)
  })
})

// PNG encoding is slow inside jest's sandbox (about 1 s at the default 430 px), so most cases ask
// for the smallest width.
describe('wxacode.getUnlimited', () => {
  test.each([
    ['pages/home/index', 'id=42&c=ab'],
    ['packages/guide/detail/index', 'x'.repeat(32)],
  ])('returns a PNG QR code encoding page %s + scene %s', async (page, scene) => {
    const res = (await cloud.openapi.wxacode.getUnlimited({ page, scene, checkPath: true, width: 280 })) as { contentType: string; buffer: Buffer; errCode: number }
    expect(res.errCode).toBe(0)
    expect(res.contentType).toBe('image/png')
    expect(Buffer.isBuffer(res.buffer)).toBe(true)
    expect(decodeQr(res.buffer)).toEqual({ text: `${page}?scene=${encodeURIComponent(scene)}`, width: 280 })
  })

  test('from a function, too, 430 px wide by default', async () => {
    const { result } = await fromFunction('wxacode.getUnlimited', { page: 'pages/me/index', scene: 'inv=u123' })
    if (!result.ok) throw new Error(result.errMsg)
    expect(result.result.contentType).toBe('image/png')
    expect(decodeQr(Buffer.from(result.result.buffer as string, 'base64'))).toEqual({ text: 'pages/me/index?scene=inv%3Du123', width: 430 })
  })

  test.each(['x'.repeat(33), 'has space', '中文', ''])('scene %j (over 32 characters, or characters WeChat does not allow) -> 40169', async (scene) => {
    const err = await rejection(cloud.openapi.wxacode.getUnlimited({ page: 'pages/home/index', scene }))
    expect(err.errCode).toBe(40169)
  })

  test('an unknown page with check_path -> 41030; without check_path it is allowed', async () => {
    const err = await rejection(cloud.openapi.wxacode.getUnlimited({ page: 'pages/nope/index', scene: 'a=1', checkPath: true }))
    expect(err.errCode).toBe(41030)
    const res = (await cloud.openapi.wxacode.getUnlimited({ page: 'pages/nope/index', scene: 'a=1', checkPath: false, width: 280 })) as { buffer: Buffer }
    expect(decodeQr(res.buffer).text).toBe('pages/nope/index?scene=a%3D1')
  })
})

/** The default word list, read here independently of the cloud's parser. */
function defaultWords(): [string, number][] {
  return readFileSync(DEFAULT_WORDS_FILE, 'utf8')
    .split('\n')
    .filter((line) => line.trim() && !line.startsWith('#'))
    .map((line) => {
      const [word, label] = line.trim().split('\t')
      return [word!, Number(label ?? 21000)]
    })
}

describe('security.msgSecCheck', () => {
  const v2 = (content: string) => cloud.openapi.security.msgSecCheck({ content, version: 2, scene: 2, openid: 'o-author' } as never) as Promise<MsgSecResult>

  test('v2: ordinary text passes with label 100', async () => {
    const res = await v2('今天天气不错，适合出门散步。')
    expect(res.errCode).toBe(0)
    expect(res.result).toEqual({ suggest: 'pass', label: 100 })
  })

  test.each(defaultWords())('v2: %s from msgsec-words.txt is risky with label %i', async (word, label) => {
    const res = await v2(`开头 ${word.toUpperCase()} 结尾`)
    expect(res.errCode).toBe(0)
    expect(res.result).toEqual({ suggest: 'risky', label })
    expect(res.detail[0]!.keyword).toBe(word)
  })

  test('v1: risky -> errCode 87014, clean -> 0', async () => {
    const [word] = defaultWords()[0]!
    expect((await rejection(cloud.openapi.security.msgSecCheck({ content: `x${word}x` }))).errCode).toBe(87014)
    expect(((await cloud.openapi.security.msgSecCheck({ content: 'hello' })) as { errCode: number }).errCode).toBe(0)
  })

  test('v2 without openid -> 40003; from a function the same check runs', async () => {
    expect((await rejection(cloud.openapi.security.msgSecCheck({ content: 'hi', version: 2, scene: 2 } as never))).errCode).toBe(40003)
    const [word, label] = defaultWords()[1]!
    const { result } = await fromFunction('security.msgSecCheck', { content: word, version: 2, scene: 3, openid: 'o-fn' })
    expect(result).toMatchObject({ ok: true, result: { errCode: 0, result: { suggest: 'risky', label } } })
  })

  test('a custom words file replaces the default list', async () => {
    const file = path.join(dir, 'words.txt')
    writeFileSync(file, '# custom\nmoonshine\t20006\nplainword\n')
    const custom = await startCloud({ functionsDir: FIXTURE_FUNCTIONS, wordsFile: file })
    try {
      const check = async (content: string) => {
        const reply = await callGateway<{ result: FunctionReply }>(custom.url, 'openapi', {
          api: 'security.msgSecCheck',
          params: { content, version: 2, scene: 2, openid: 'o-fn' },
        })
        const result = reply.body.result
        if (!result.ok) throw new Error(result.errMsg)
        return result.result.result
      }
      expect(await check('Homemade MoonShine for sale')).toEqual({ suggest: 'risky', label: 20006 })
      expect(await check('a plainword here')).toEqual({ suggest: 'risky', label: 21000 })
      expect(await check(defaultWords()[0]![0])).toEqual({ suggest: 'pass', label: 100 })
    } finally {
      await custom.stop()
    }
  })
})

describe('permissions (config.json permissions.openapi)', () => {
  test.each([
    ['subscribeMessage.send', message],
    ['wxacode.getUnlimited', { page: 'pages/home/index', scene: 'a=1' }],
    ['security.msgSecCheck', { content: 'hello' }],
  ])('%s from a function without the permission -> errCode -604101, nothing sent', async (api, params) => {
    const before = outbox().length
    const { result } = await fromFunction(api, params, 'openapi-denied')
    expect(result).toMatchObject({ ok: false, errCode: -604101 })
    expect(outbox().length).toBe(before)
  })
})
