/**
 * The `user` function through the gateway, against a real local cloud: login and first-seen day,
 * identity from the platform context only, profile validation, and the round trips each call costs.
 */
import type { UserOutputs } from '../../cloudfunctions/user/api'
import { callAction, callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'

let t: TestCloud

beforeAll(async () => {
  t = await startCloud()
})
afterAll(() => t.stop())

type Login = UserOutputs['login']

/** Today in Asia/Shanghai, computed by fixed-offset arithmetic (independent of the function's Intl). */
function shanghaiToday(): string {
  return new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
}

function storedUser(openid: string) {
  return t.cloud.store.find('users', { query: { _id: openid } })[0]
}

describe('login', () => {
  test('creates the user keyed by OPENID on the first call, returns it on later calls', async () => {
    const first = await callAction<Login>(t.url, 'user', 'login', {}, 'o-alice')
    expect(first).toMatchObject({ ok: true, data: { isNew: true, user: { openid: 'o-alice', nickname: '', firstSeenDay: shanghaiToday() } } })
    const doc = storedUser('o-alice')
    expect(doc).toMatchObject({ _id: 'o-alice', openid: 'o-alice', appid: t.cloud.appid, firstSeenDay: shanghaiToday() })
    expect(doc?.firstSeenAt).toBeInstanceOf(Date)

    const again = await callAction<Login>(t.url, 'user', 'login', {}, 'o-alice')
    expect(again.ok && again.data.isNew).toBe(false)
    expect(again.ok && again.data.user.firstSeenAt).toBe((doc?.firstSeenAt as Date).toISOString())
    expect(t.cloud.store.count('users', { openid: 'o-alice' })).toBe(1)
  })

  test('costs 2 round trips for a new user and 1 for a returning one on the same day', async () => {
    const fresh = await callGateway(t.url, 'user', { action: 'login' }, { openid: 'o-counted' })
    expect(fresh.headers.get('x-db-roundtrips')).toBe('2')
    expect(fresh.headers.get('x-db-ops')).toBe('getDocument=1,insertDocument=1')
    const returning = await callGateway(t.url, 'user', { action: 'login' }, { openid: 'o-counted' })
    expect(returning.headers.get('x-db-roundtrips')).toBe('1')
    expect(returning.headers.get('x-db-ops')).toBe('getDocument=1')
  })

  test('records the visit once on a new day', async () => {
    await callAction(t.url, 'user', 'login', {}, 'o-back')
    t.cloud.store.modify('users', { query: { _id: 'o-back' }, data: { $set: { lastSeenDay: '2020-01-01' } }, multi: false, merge: true, upsert: false })
    const reply = await callGateway(t.url, 'user', { action: 'login' }, { openid: 'o-back' })
    expect(reply.headers.get('x-db-ops')).toBe('getDocument=1,modifyDocument=1')
    expect(storedUser('o-back')?.lastSeenDay).toBe(shanghaiToday())
    expect(storedUser('o-back')?.firstSeenDay).toBe(shanghaiToday())
  })

  test('concurrent first logins create exactly one user and exactly one isNew', async () => {
    const replies = await Promise.all(Array.from({ length: 20 }, () => callAction<Login>(t.url, 'user', 'login', {}, 'o-race')))
    expect(replies.every((r) => r.ok)).toBe(true)
    expect(replies.filter((r) => r.ok && r.data.isNew)).toHaveLength(1)
    expect(t.cloud.store.count('users', { openid: 'o-race' })).toBe(1)
  })

  test('refuses a call without a platform identity and writes nothing', async () => {
    const before = t.cloud.store.count('users', {})
    const reply = await callAction(t.url, 'user', 'login', {})
    expect(reply).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } })
    expect(t.cloud.store.count('users', {})).toBe(before)
  })

  test('never takes identity from the payload', async () => {
    const injected = await callAction(t.url, 'user', 'login', { openid: 'o-evil' }, 'o-real')
    expect(injected).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    const spoofed = await callGateway<{ result: { ok: boolean; data: Login } }>(
      t.url,
      'user',
      { action: 'login', userInfo: { openId: 'o-evil', appId: 'wx-evil' } },
      { openid: 'o-real' },
    )
    expect(spoofed.body.result.data.user.openid).toBe('o-real')
    expect(storedUser('o-evil')).toBeUndefined()
  })
})

describe('profile', () => {
  beforeAll(async () => {
    await callAction(t.url, 'user', 'login', {}, 'o-bob')
  })

  test('reads the caller profile; a caller who never logged in gets NOT_FOUND', async () => {
    expect(await callAction(t.url, 'user', 'profile', {}, 'o-bob')).toMatchObject({ ok: true, data: { openid: 'o-bob' } })
    expect(await callAction(t.url, 'user', 'profile', {}, 'o-nobody')).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } })
  })

  test('updates the nickname (trimmed, content-checked) and an https avatar (no upload to check)', async () => {
    const reply = await callAction(t.url, 'user', 'updateProfile', { nickname: '  小鲍  ', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/o-bob.png' }, 'o-bob')
    expect(reply).toMatchObject({ ok: true, data: { nickname: '小鲍', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/o-bob.png', avatar: 'https://thirdwx.qlogo.cn/mmopen/o-bob.png' } })
    expect(storedUser('o-bob')).toMatchObject({ nickname: '小鲍', avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/o-bob.png' })
    const calls = await fetch(`${t.url}/_/invocations?fn=user&limit=1`).then((r) => r.json() as Promise<{ invocations: { openapi: Record<string, number> }[] }>)
    expect(calls.invocations[0]?.openapi).toEqual({ 'security.msgSecCheck': 1 })
  })

  test.each([
    ['a nickname over 20 characters', { nickname: '一二三四五六七八九十一二三四五六七八九十一' }, 'nickname'],
    ['an empty nickname', { nickname: '   ' }, 'nickname'],
    ['an http avatar', { avatarUrl: 'http://example.com/a.png' }, 'avatarUrl'],
    ['an operator instead of a string', { nickname: { $ne: null } }, 'nickname'],
    ['an unknown field', { nickname: 'ok', role: 'admin' }, ''],
    ['nothing to update', {}, ''],
  ])('rejects %s with INVALID_INPUT and changes nothing', async (_name, data, path) => {
    const before = storedUser('o-bob')
    const reply = await callAction(t.url, 'user', 'updateProfile', data, 'o-bob')
    expect(reply.ok).toBe(false)
    if (reply.ok) return
    expect(reply.error.code).toBe('INVALID_INPUT')
    expect(reply.error.issues?.map((i) => i.path)).toContain(path)
    expect(storedUser('o-bob')).toEqual(before)
  })

  test('explains a nickname refused by the content check and keeps the old one', async () => {
    const before = storedUser('o-bob')
    const reply = await callAction(t.url, 'user', 'updateProfile', { nickname: '违禁测试词' }, 'o-bob')
    expect(reply).toMatchObject({ ok: false, error: { code: 'CONTENT_REJECTED' } })
    expect(storedUser('o-bob')).toEqual(before)
  })
})

describe('router', () => {
  test.each([
    ['an unknown action', { action: 'drop' }, 'UNKNOWN_ACTION'],
    ['a missing action', { data: {} }, 'INVALID_REQUEST'],
    ['a non-string action', { action: { $ne: null } }, 'INVALID_REQUEST'],
    ['data that is not an object', { action: 'login', data: 'x' }, 'INVALID_INPUT'],
  ])('answers %s with a typed error', async (_name, event, code) => {
    const reply = await callGateway<{ result: { ok: boolean; error: { code: string } } }>(t.url, 'user', event, { openid: 'o-router' })
    expect(reply.status).toBe(200)
    expect(reply.body.result).toMatchObject({ ok: false, error: { code } })
    expect(storedUser('o-router')).toBeUndefined()
  })

  test('an unknown action is answered with the valid ones', async () => {
    const reply = await callAction(t.url, 'user', 'drop', {}, 'o-router')
    expect(reply).toMatchObject({ ok: false, error: { code: 'UNKNOWN_ACTION' } })
    expect(!reply.ok && reply.error.message).toMatch(/Valid actions: login, .*updateProfile/)
  })
})

describe('onboarding', () => {
  const CONFIG = [
    { id: 'tabs', selector: '.home__tabs', title: '先选分类', body: '分类在这里', placement: 'bottom' },
    { id: 'me', selector: '#me', title: '我的' },
  ]
  const setConfig = (steps: unknown) => {
    t.cloud.store.remove('app_config', { _id: 'onboarding' }, false)
    if (steps !== undefined) t.cloud.store.insert('app_config', [{ _id: 'onboarding', steps }])
  }
  afterAll(() => setConfig(undefined))

  test('login returns no outcome for a new user, and the guide config only when asked (read in parallel: 1 round trip more)', async () => {
    setConfig(CONFIG)
    const plain = await callGateway<{ result: { ok: true; data: Login } }>(t.url, 'user', { action: 'login' }, { openid: 'o-guide' })
    expect(plain.body.result.data.user.onboarding).toBeNull()
    expect(plain.body.result.data).not.toHaveProperty('onboardingSteps')
    const asked = await callGateway<{ result: { ok: true; data: Login } }>(t.url, 'user', { action: 'login', data: { onboarding: true } }, { openid: 'o-guide' })
    expect(asked.headers.get('x-db-ops')).toBe('getDocument=2')
    // Defaults filled in by the schema (body '', placement 'bottom').
    expect(asked.body.result.data.onboardingSteps).toEqual([CONFIG[0], { ...CONFIG[1], body: '', placement: 'bottom' }])
  })

  test.each([
    ['no document', undefined],
    ['a selector that is not a class or id', [{ id: 'x', selector: 'view .a', title: 't' }]],
    ['a title over 20 characters', [{ id: 'x', selector: '.a', title: '一二三四五六七八九十一二三四五六七八九十一' }]],
    ['duplicate ids', [{ id: 'x', selector: '.a', title: 't' }, { id: 'x', selector: '.b', title: 't' }]],
    ['an unknown field', [{ id: 'x', selector: '.a', title: 't', script: 'alert(1)' }]],
    ['no steps', []],
    ['not a list', { id: 'x' }],
  ])('an invalid configuration (%s) answers null: the app keeps its built-in steps', async (_name, steps) => {
    setConfig(steps)
    const reply = await callAction<Login>(t.url, 'user', 'login', { onboarding: true }, 'o-guide')
    expect(reply).toMatchObject({ ok: true, data: { onboardingSteps: null } })
  })

  test('setOnboarding records the outcome on the caller, once: the first outcome stays; login then returns it', async () => {
    await callAction(t.url, 'user', 'login', {}, 'o-done')
    const first = await callGateway<{ result: { ok: true; data: UserOutputs['setOnboarding'] } }>(
      t.url, 'user', { action: 'setOnboarding', data: { status: 'skipped', step: 'card' } }, { openid: 'o-done' },
    )
    expect(first.headers.get('x-db-roundtrips')).toBe('1')
    expect(first.body.result.data.onboarding).toMatchObject({ status: 'skipped', step: 'card' })
    const stored = storedUser('o-done')?.onboarding as { status: string; step: string; at: Date }
    expect(stored).toMatchObject({ status: 'skipped', step: 'card' })
    expect(stored.at).toBeInstanceOf(Date)
    expect(first.body.result.data.onboarding.at).toBe(stored.at.toISOString())

    // Another device finishing later does not rewrite it; it is told what is recorded.
    const second = await callAction<UserOutputs['setOnboarding']>(t.url, 'user', 'setOnboarding', { status: 'finished', step: 'me' }, 'o-done')
    expect(second).toMatchObject({ ok: true, data: { onboarding: { status: 'skipped', step: 'card', at: stored.at.toISOString() } } })
    expect(storedUser('o-done')?.onboarding).toEqual(stored)

    const login = await callAction<Login>(t.url, 'user', 'login', { onboarding: true }, 'o-done')
    expect(login.ok && login.data.user.onboarding).toEqual({ status: 'skipped', step: 'card', at: stored.at.toISOString() })
    expect(await callAction(t.url, 'user', 'profile', {}, 'o-done')).toMatchObject({ ok: true, data: { onboarding: { status: 'skipped' } } })
  })

  test('identity from the context only: an openid in the payload is refused, and only the caller is written', async () => {
    await callAction(t.url, 'user', 'login', {}, 'o-self')
    await callAction(t.url, 'user', 'login', {}, 'o-victim')
    const injected = await callAction(t.url, 'user', 'setOnboarding', { status: 'finished', step: 'me', openid: 'o-victim' }, 'o-self')
    expect(injected).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
    const spoofed = await callGateway<{ result: { ok: boolean } }>(
      t.url, 'user', { action: 'setOnboarding', data: { status: 'finished', step: 'me' }, userInfo: { openId: 'o-victim' } }, { openid: 'o-self' },
    )
    expect(spoofed.body.result.ok).toBe(true)
    expect(storedUser('o-self')?.onboarding).toMatchObject({ status: 'finished', step: 'me' })
    expect(storedUser('o-victim')?.onboarding).toBeUndefined()
    expect(await callAction(t.url, 'user', 'setOnboarding', { status: 'finished', step: 'me' })).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } })
  })

  test('a caller who never logged in gets NOT_FOUND and nothing is created', async () => {
    expect(await callAction(t.url, 'user', 'setOnboarding', { status: 'finished', step: 'me' }, 'o-ghost')).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } })
    expect(storedUser('o-ghost')).toBeUndefined()
  })

  test.each([
    ['an unknown status', { status: 'done', step: 'me' }, 'status'],
    ['a missing step', { status: 'finished' }, 'step'],
    ['a step id with spaces', { status: 'finished', step: 'the me' }, 'step'],
    ['an operator for the step', { status: 'finished', step: { $ne: null } }, 'step'],
    ['an unknown field', { status: 'finished', step: 'me', at: '2020-01-01' }, ''],
  ])('setOnboarding rejects %s with INVALID_INPUT and changes nothing', async (_name, data, path) => {
    await callAction(t.url, 'user', 'login', {}, 'o-bad')
    const before = storedUser('o-bad')
    const reply = await callAction(t.url, 'user', 'setOnboarding', data, 'o-bad')
    expect(reply.ok).toBe(false)
    if (reply.ok) return
    expect(reply.error.code).toBe('INVALID_INPUT')
    expect(reply.error.issues?.map((i) => i.path)).toContain(path)
    expect(storedUser('o-bad')).toEqual(before)
  })

  test('login rejects a non-boolean onboarding flag', async () => {
    expect(await callAction(t.url, 'user', 'login', { onboarding: 'yes' }, 'o-guide')).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  })
})

describe('avatar', () => {
  /** Uploads as the device does (wx.uploadFile to the local cloud, the caller in x-wx-openid); the file ID. */
  async function upload(openid: string, cloudPath: string, bytes = Buffer.from('\x89PNG fake image bytes')): Promise<string> {
    const form = new FormData()
    form.set('cloudPath', cloudPath)
    form.set('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'avatar.png')
    const res = await fetch(`${t.url}/storage/client-upload`, { method: 'POST', headers: { 'x-wx-openid': openid }, body: form })
    expect(res.status).toBe(200)
    return ((await res.json()) as { fileID: string }).fileID
  }
  const checks = () => t.cloud.store.find('_media_checks', { query: {}, limit: 1000 })
  const exists = (fileId: string) => t.cloud.storage.exists(fileId.replace(/^cloud:\/\/[^/]+\//, ''))
  const push = (event: Record<string, unknown>) => callGateway<{ result: unknown }>(t.url, 'user', event)

  beforeAll(async () => {
    for (const openid of ['o-ava', 'o-eve']) await callAction(t.url, 'user', 'login', {}, openid)
  })

  test("an avatar uploaded to the caller's own folder is stored, shown at a temporary address and submitted to the asynchronous content check", async () => {
    const fileId = await upload('o-ava', 'avatars/o-ava/1.png')
    const reply = await callAction<UserOutputs['updateProfile']>(t.url, 'user', 'updateProfile', { avatarUrl: fileId }, 'o-ava')
    expect(reply).toMatchObject({ ok: true, data: { avatarUrl: fileId } })
    const shown = reply.ok ? reply.data.avatar : ''
    expect(await fetch(shown).then(async (r) => [r.status, Buffer.from(await r.arrayBuffer()).toString()])).toEqual([200, '\x89PNG fake image bytes'])
    const check = checks().find((c) => c.openid === 'o-ava')
    expect(check).toMatchObject({ media_type: 2, scene: 1, openid: 'o-ava' })
    expect(String(check?.media_url)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/storage\/file\/avatars\/o-ava\/1\.png\?/)
    expect(storedUser('o-ava')).toMatchObject({ avatarUrl: fileId, avatarCheck: { traceId: check?._id, status: 'pending' } })
    const calls = await fetch(`${t.url}/_/invocations?fn=user&limit=1`).then((r) => r.json() as Promise<{ invocations: { openapi: Record<string, number> }[] }>)
    expect(calls.invocations[0]?.openapi).toEqual({ 'security.mediaCheckAsync': 1 })
    // The profile carries the address to show it at, on every read.
    const login = await callAction<Login>(t.url, 'user', 'login', {}, 'o-ava')
    expect(login.ok && login.data.user.avatar).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/storage\/file\/avatars\/o-ava\/1\.png\?/)
  })

  test('a new avatar replaces the old one, whose file leaves storage', async () => {
    const first = await upload('o-ava', 'avatars/o-ava/2.png')
    expect((await callAction(t.url, 'user', 'updateProfile', { avatarUrl: first }, 'o-ava')).ok).toBe(true)
    const second = await upload('o-ava', 'avatars/o-ava/3.png')
    expect((await callAction(t.url, 'user', 'updateProfile', { avatarUrl: second }, 'o-ava')).ok).toBe(true)
    expect(exists(first)).toBe(false)
    expect(exists(second)).toBe(true)
    expect(storedUser('o-ava')?.avatarUrl).toBe(second)
  })

  test.each([
    ["in someone else's folder", 'avatars/o-eve/x.png', 'o-eve', '头像不是你上传的文件，请重新选择。'],
    ['outside the avatars folder', 'feedback/o-ava/x.png', 'o-ava', '头像不是你上传的文件，请重新选择。'],
  ])('an avatar %s is refused with INVALID_INPUT and nothing changes', async (_name, cloudPath, owner, message) => {
    const fileId = await upload(owner, cloudPath)
    const before = storedUser('o-ava')
    const checked = checks().length
    expect(await callAction(t.url, 'user', 'updateProfile', { avatarUrl: fileId }, 'o-ava')).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message } })
    expect(storedUser('o-ava')).toEqual(before)
    expect(checks()).toHaveLength(checked)
  })

  test('an avatar file that was never uploaded is refused and nothing changes', async () => {
    const before = storedUser('o-ava')
    const reply = await callAction(t.url, 'user', 'updateProfile', { avatarUrl: 'cloud://local.bucket/avatars/o-ava/missing.png' }, 'o-ava')
    expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: '头像没有上传成功，请重新选择。' } })
    expect(storedUser('o-ava')).toEqual(before)
  })

  test('when the content check cannot be reached, the avatar is not stored', async () => {
    const fileId = await upload('o-eve', 'avatars/o-eve/1.png')
    t.cloud.store.insert('_openapi_faults', [{ api: 'security.mediaCheckAsync', errcode: -1, touser: 'o-eve' }])
    const before = storedUser('o-eve')
    expect(await callAction(t.url, 'user', 'updateProfile', { avatarUrl: fileId }, 'o-eve')).toMatchObject({ ok: false, error: { code: 'INTERNAL' } })
    expect(storedUser('o-eve')).toEqual(before)
  })

  test("WeChat's verdict, pushed later: risky takes the avatar down and deletes its file; pass keeps it; found by trace id only", async () => {
    const fileId = await upload('o-eve', 'avatars/o-eve/2.png')
    expect((await callAction(t.url, 'user', 'updateProfile', { avatarUrl: fileId }, 'o-eve')).ok).toBe(true)
    const traceId = (storedUser('o-eve')?.avatarCheck as { traceId: string }).traceId
    const verdict = (suggest: string, trace = traceId) => push({ ToUserName: 'gh_app', FromUserName: 'o-eve', MsgType: 'event', Event: 'wxa_media_check', appid: 'wx0', trace_id: trace, version: 2, result: { suggest, label: suggest === 'risky' ? 20002 : 100 } })

    expect((await verdict('pass', 'no-such-trace')).body.result).toEqual({ ok: true, data: { applied: false } })
    expect((await verdict('pass')).body.result).toEqual({ ok: true, data: { applied: true, status: 'pass' } })
    expect(storedUser('o-eve')).toMatchObject({ avatarUrl: fileId, avatarCheck: { status: 'pass' } })

    expect((await verdict('risky')).body.result).toEqual({ ok: true, data: { applied: true, status: 'risky' } })
    expect(storedUser('o-eve')).toMatchObject({ avatarUrl: '', avatarCheck: { status: 'risky' } })
    expect(exists(fileId)).toBe(false)
    expect(await callAction(t.url, 'user', 'profile', {}, 'o-eve')).toMatchObject({ ok: true, data: { avatarUrl: '', avatar: '' } })

    expect((await push({ Event: 'wxa_media_check', trace_id: traceId, result: { suggest: 'maybe' } })).body.result).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } })
  })
})
