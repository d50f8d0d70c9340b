/**
 * The `channel` function through the gateway, against a real local cloud: admin-made short codes
 * with their mini-program code images (decoded back from the PNG), listing, resolving, and the
 * code carried by a launch ending up in the user's first touch.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import jsQR from 'jsqr'
import { PNG } from 'pngjs'
import type { ChannelCode, ChannelOutputs } from '../../cloudfunctions/channel/api'
import { uuidv7 } from '../../miniprogram/core/uuid'
import { callAction, startCloud, type TestCloud } from '../helpers/local-cloud'

type Created = ChannelOutputs['createCode']
type Doc = Record<string, unknown>

// Cold workers drawing and uploading mini-program codes take seconds on a loaded 2-core CI machine.
jest.setTimeout(180_000)

const ADMIN = 'o-channel-admin'
/** The code alphabet leaves out 0/O and 1/l/I. */
const CODE_SHAPE = /^[A-HJ-NP-Za-km-z2-9]{8}$/

function decodeQr(png: Buffer): string | undefined {
  const image = PNG.sync.read(png)
  return jsQR(new Uint8ClampedArray(image.data), image.width, image.height)?.data
}

/** Every file in the cloud's storage, as cloud paths. */
function storedFiles(cloud: TestCloud): string[] {
  const root = cloud.cloud.storage.root
  const walk = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.relative(root, path.join(dir, d.name))]))
      : []
  return walk(root).sort()
}

/** The bytes a file ID points to, read from the local cloud's disk. */
function fileBytes(cloud: TestCloud, fileId: string): Buffer {
  const cloudPath = cloud.cloud.storage.pathOf(fileId)
  if (!cloudPath) throw new Error(`not a file ID of this cloud: ${fileId}`)
  return readFileSync(cloud.cloud.storage.diskPath(cloudPath))
}

function lastInvocation(cloud: TestCloud) {
  return cloud.cloud.ledger.recentInvocations(1, 'channel')[0]!
}

let t: TestCloud

beforeAll(async () => {
  t = await startCloud()
  t.cloud.store.insert('app_config', [{ _id: 'admins', openids: [ADMIN] }])
})
afterAll(() => t.stop())

const codes = () => t.cloud.store.count('channel_codes', {})

async function create(data: Record<string, unknown>, openid = ADMIN): Promise<Created> {
  const reply = await callAction<Created>(t.url, 'channel', 'createCode', data, openid)
  if (!reply.ok) throw new Error(JSON.stringify(reply.error))
  return reply.data
}

describe('createCode', () => {
  test('a non-admin is FORBIDDEN and nothing is written or generated', async () => {
    const [before, files] = [codes(), storedFiles(t)]
    const reply = await callAction(t.url, 'channel', 'createCode', { channel: 'poster', campaign: 'spring' }, 'o-not-admin')
    expect(reply).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
    expect(codes()).toBe(before)
    expect(storedFiles(t)).toEqual(files)
    expect(lastInvocation(t).openapi).toEqual({})
    const anonymous = await callAction(t.url, 'channel', 'createCode', { channel: 'poster', campaign: 'spring' })
    expect(anonymous).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } })
  })

  test('an admin gets an 8-character code, its registry entry and a QR image that opens the page with it', async () => {
    const before = Date.now()
    const made = await create({ channel: 'store-a', campaign: ' Grand opening ', inviter: 'o-promoter', note: 'counter poster' })
    expect(made.code).toMatch(CODE_SHAPE)
    expect(made).toEqual({
      code: made.code,
      channel: 'store-a',
      campaign: 'Grand opening',
      inviter: 'o-promoter',
      page: 'pages/home/index',
      note: 'counter poster',
      createdAt: expect.any(String),
      fileId: expect.stringMatching(/^cloud:\/\//),
      imageUrl: expect.stringMatching(/^http/),
    })
    expect(Date.parse(made.createdAt)).toBeGreaterThanOrEqual(before - 1000)

    const doc = t.cloud.store.find('channel_codes', { query: { _id: made.code } })[0]
    expect(doc).toEqual({
      _id: made.code,
      channel: 'store-a',
      campaign: 'Grand opening',
      inviter: 'o-promoter',
      page: 'pages/home/index',
      note: 'counter poster',
      createdBy: ADMIN,
      createdAt: new Date(made.createdAt),
      qrFileId: made.fileId,
    })

    const png = fileBytes(t, made.fileId)
    expect(decodeQr(png)).toBe(`pages/home/index?scene=${made.code}`)
    const served = await fetch(made.imageUrl)
    expect(served.status).toBe(200)
    expect(served.headers.get('content-type')).toBe('image/png')
    expect(Buffer.from(await served.arrayBuffer()).equals(png)).toBe(true)
    expect(lastInvocation(t).openapi).toEqual({ 'wxacode.getUnlimited': 1 })
  })

  test('a page the mini-program does not have is INVALID_INPUT while checkPath is on, and nothing is stored', async () => {
    const [before, files] = [codes(), storedFiles(t)]
    const reply = await callAction(t.url, 'channel', 'createCode', { channel: 'poster', campaign: 'launch', page: 'pages/promo/index' }, ADMIN)
    expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: expect.stringContaining('pages/promo/index') } })
    expect(codes()).toBe(before)
    expect(storedFiles(t)).toEqual(files)
  })

  test('with checkPath off, a page not published yet works', async () => {
    const made = await create({ channel: 'poster', campaign: 'launch', page: 'pages/promo/index', checkPath: false })
    expect(made).toMatchObject({ page: 'pages/promo/index', note: '' })
    expect(made).not.toHaveProperty('inviter')
    expect(decodeQr(fileBytes(t, made.fileId))).toBe(`pages/promo/index?scene=${made.code}`)
  })

  test.each([
    ['a channel with capitals and spaces', { channel: 'Store A', campaign: 'x' }],
    ['an empty campaign', { channel: 'poster', campaign: '   ' }],
    ['a page with a query', { channel: 'poster', campaign: 'x', page: 'pages/home/index?x=1' }],
    ['an operator as channel', { channel: { $ne: null }, campaign: 'x' }],
    ['an unknown field', { channel: 'poster', campaign: 'x', createdBy: 'o-someone' }],
  ])('rejects %s with INVALID_INPUT before doing anything', async (_what, data) => {
    const before = codes()
    expect(await callAction(t.url, 'channel', 'createCode', data, ADMIN)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    expect(codes()).toBe(before)
    expect(lastInvocation(t).openapi).toEqual({})
  })
})

describe('listCodes', () => {
  // Arranged directly: generating images is slow, and listing does not look at them.
  const arranged = [
    { _id: 'ListAaa1', channel: 'flyer', campaign: 'one', createdAt: new Date('2026-03-01T00:00:00Z') },
    { _id: 'ListAaa2', channel: 'flyer', campaign: 'two', createdAt: new Date('2026-03-03T00:00:00Z') },
    { _id: 'ListAaa3', channel: 'radio', campaign: 'three', createdAt: new Date('2026-03-02T00:00:00Z') },
    { _id: 'ListAaa4', channel: 'flyer', campaign: 'four', inviter: 'o-x', createdAt: new Date('2026-03-02T12:00:00Z') },
  ]
  beforeAll(() => {
    t.cloud.store.insert(
      'channel_codes',
      arranged.map((a) => ({ page: 'pages/home/index', note: '', createdBy: ADMIN, qrFileId: `cloud://x/${a._id}.png`, ...a })),
    )
  })

  test('is for admins only', async () => {
    expect(await callAction(t.url, 'channel', 'listCodes', {}, 'o-not-admin')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } })
  })

  test('filters by channel, newest first', async () => {
    const reply = await callAction<ChannelOutputs['listCodes']>(t.url, 'channel', 'listCodes', { channel: 'flyer' }, ADMIN)
    if (!reply.ok) throw new Error(JSON.stringify(reply.error))
    expect(reply.data.items).toEqual<ChannelCode[]>([
      { code: 'ListAaa2', channel: 'flyer', campaign: 'two', page: 'pages/home/index', note: '', createdAt: '2026-03-03T00:00:00.000Z', fileId: 'cloud://x/ListAaa2.png' },
      { code: 'ListAaa4', channel: 'flyer', campaign: 'four', inviter: 'o-x', page: 'pages/home/index', note: '', createdAt: '2026-03-02T12:00:00.000Z', fileId: 'cloud://x/ListAaa4.png' },
      { code: 'ListAaa1', channel: 'flyer', campaign: 'one', page: 'pages/home/index', note: '', createdAt: '2026-03-01T00:00:00.000Z', fileId: 'cloud://x/ListAaa1.png' },
    ])
  })

  test('without a filter, lists every channel newest first', async () => {
    const reply = await callAction<ChannelOutputs['listCodes']>(t.url, 'channel', 'listCodes', {}, ADMIN)
    if (!reply.ok) throw new Error(JSON.stringify(reply.error))
    const all = t.cloud.store.find('channel_codes', { query: {}, limit: 1000 })
    const expected = [...all].sort((a, b) => (b.createdAt as Date).getTime() - (a.createdAt as Date).getTime()).map((d) => d._id)
    expect(reply.data.items.map((i) => i.code)).toEqual(expected)
    expect(new Set(reply.data.items.map((i) => i.channel))).toEqual(new Set(all.map((d) => d.channel)))
  })
})

describe('resolve', () => {
  test('returns channel and campaign, to anyone', async () => {
    expect(await callAction(t.url, 'channel', 'resolve', { code: 'ListAaa3' })).toEqual({ ok: true, data: { channel: 'radio', campaign: 'three' } })
    expect(await callAction(t.url, 'channel', 'resolve', { code: 'ListAaa4' }, 'o-anyone')).toEqual({ ok: true, data: { channel: 'flyer', campaign: 'four' } })
  })

  test('an unknown code is NOT_FOUND', async () => {
    expect(await callAction(t.url, 'channel', 'resolve', { code: 'Zzzzzzz9' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } })
  })

  test.each([['short'], ['ABCDEFGHI'], ['ABCD-FGH'], ['ABCDEFG!']])('a code of the wrong shape (%s) is INVALID_INPUT', async (code) => {
    expect(await callAction(t.url, 'channel', 'resolve', { code })).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  })

  test('an operator is INVALID_INPUT', async () => {
    expect(await callAction(t.url, 'channel', 'resolve', { code: { $ne: null } })).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  })
})

test('end to end: a launch with a code made by createCode gives the new user that channel and campaign', async () => {
  const made = await create({ channel: 'poster', campaign: 'autumn-fair', inviter: 'o-shopkeeper' })
  const anonymousId = uuidv7()
  const launch = {
    id: uuidv7(),
    name: 'app_launch',
    ts: Date.now(),
    anonymousId,
    sessionId: uuidv7(),
    page: '',
    // What the app sends after scanning: the code's scene as `code`, scene 1047 (mini-program code).
    props: { path: 'pages/home/index', scene: 1047, code: made.code },
  }
  const reply = await callAction(t.url, 'track', 'ingest', { events: [launch] }, 'o-scanner')
  expect(reply).toMatchObject({ ok: true, data: { accepted: [launch.id] } })
  const user = t.cloud.store.find('users', { query: { _id: 'o-scanner' } })[0]
  expect(user?.firstTouch).toEqual({
    scene: 1047,
    code: made.code,
    channel: 'poster',
    campaign: 'autumn-fair',
    inviter: 'o-shopkeeper',
    at: new Date(launch.ts),
    day: new Date(launch.ts + 8 * 3600_000).toISOString().slice(0, 10),
  })
})

describe('a newly drawn code that is taken already', () => {
  // The function's random bytes are made predictable with a preloaded module (NODE_OPTIONS from
  // config.json): the second call draws the first call's code, then another.
  const TMP = path.resolve(__dirname, '../.tmp')
  let dir: string
  let rigged: TestCloud

  beforeAll(async () => {
    // One recursive mkdir: it recreates test/.tmp should another test file remove it meanwhile.
    dir = path.join(TMP, `channel-random-${process.pid}-${Date.now().toString(36)}`)
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      path.join(dir, 'random.js'),
      [
        "const crypto = require('crypto')",
        'const real = crypto.randomBytes',
        "const queue = (process.env.TEST_RANDOM_8 || '').split(',').filter(Boolean)",
        "crypto.randomBytes = function (size, callback) { return size === 8 && !callback && queue.length > 0 ? Buffer.from(queue.shift(), 'hex') : real.apply(this, arguments) }",
        '',
      ].join('\n'),
    )
    const src = path.resolve(__dirname, '../../cloudfunctions/channel')
    mkdirSync(path.join(dir, 'channel'))
    copyFileSync(path.join(src, 'index.js'), path.join(dir, 'channel/index.js'))
    copyFileSync(path.join(src, 'package.json'), path.join(dir, 'channel/package.json'))
    const config = JSON.parse(readFileSync(path.join(src, 'config.json'), 'utf8')) as { envVariables?: Record<string, string> }
    config.envVariables = {
      ...config.envVariables,
      TEST_RANDOM_8: '0001020304050607,0001020304050607,08090a0b0c0d0e0f',
      NODE_OPTIONS: `--require ${path.join(dir, 'random.js')}`,
    }
    writeFileSync(path.join(dir, 'channel/config.json'), JSON.stringify(config))
    rigged = await startCloud({ functionsDir: dir, maxWorkers: 1 })
    rigged.cloud.store.insert('app_config', [{ _id: 'admins', openids: [ADMIN] }])
  })
  afterAll(async () => {
    await rigged?.stop()
    rmSync(dir, { recursive: true, force: true })
    try {
      rmdirSync(TMP)
    } catch {
      // another test file still uses it
    }
  })

  test('is skipped, and the image of the code that holds it is left alone', async () => {
    const first = await callAction<Created>(rigged.url, 'channel', 'createCode', { channel: 'poster', campaign: 'one' }, ADMIN)
    if (!first.ok) throw new Error(JSON.stringify(first.error))
    // Bytes 0..7 index the alphabet's first eight letters.
    expect(first.data.code).toBe('ABCDEFGH')
    const firstDoc = rigged.cloud.store.find('channel_codes', { query: { _id: 'ABCDEFGH' } })[0]

    const second = await callAction<Created>(
      rigged.url,
      'channel',
      'createCode',
      { channel: 'flyer', campaign: 'two', page: 'packages/guide/detail/index' },
      ADMIN,
    )
    if (!second.ok) throw new Error(JSON.stringify(second.error))
    expect(second.data.code).toBe('JKLMNPQR')
    expect(rigged.cloud.ledger.recentInvocations(1, 'channel')[0]?.openapi).toEqual({ 'wxacode.getUnlimited': 2 })

    expect(rigged.cloud.store.find('channel_codes', { query: { _id: 'ABCDEFGH' } })[0]).toEqual(firstDoc)
    expect(decodeQr(fileBytes(rigged, first.data.fileId))).toBe('pages/home/index?scene=ABCDEFGH')
    expect(decodeQr(fileBytes(rigged, second.data.fileId))).toBe('packages/guide/detail/index?scene=JKLMNPQR')
    expect(rigged.cloud.store.count('channel_codes', {})).toBe(2)
  })
})
