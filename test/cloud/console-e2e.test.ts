/**
 * The local console end to end, in headless Chromium (Debian's chromium driven by playwright-core)
 * against a real local cloud: find a user's document and edit it, make an openid admin and see
 * analytics.access answer admin, save an invalid funnel and see the typed issue, run a timer and
 * see its invocation, open a sent subscription message, export and re-import the data and find it
 * intact.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { buildConsole } from '../../tools/local-cloud/console/build'
import { callAction, startCloud, type TestCloud } from '../helpers/local-cloud'

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
const ADMIN = 'o-e2e-admin'

jest.setTimeout(120_000)

let t: TestCloud
let browser: Browser
let page: Page
let scratch: string
const pageErrors: string[] = []

beforeAll(async () => {
  await buildConsole()
  scratch = mkdtempSync(path.join(os.tmpdir(), 'console-e2e-'))
  t = await startCloud()
  t.cloud.store.insert('app_config', [{ _id: 'templates', ids: { feedback_reply: 'TPL_FEEDBACK' } }])
  t.cloud.store.insert('users', [{ _id: 'o-e2e-user', openid: 'o-e2e-user', nickname: '旧昵称', avatarUrl: '', firstSeenAt: new Date('2026-11-01T08:00:00Z'), firstSeenDay: '2026-11-01' }])
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ARGS })
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  page.on('pageerror', (err) => pageErrors.push(err.message))
})

afterAll(async () => {
  await browser?.close()
  await t?.stop()
  rmSync(scratch, { recursive: true, force: true })
})

afterEach(() => {
  expect(pageErrors).toEqual([])
})

async function open(url: string, hash: string): Promise<void> {
  await page.goto(`${url}/#/${hash}`)
  await page.reload()
}

test('the console opens at the local cloud\'s root with its functions listed', async () => {
  await page.goto(`${t.url}/`)
  await page.getByText('云函数', { exact: true }).waitFor()
  await page.getByRole('cell', { name: 'analytics', exact: true }).waitFor()
})

test('a user\'s document is found with a where query and edited; its date stays a date', async () => {
  await open(t.url, 'database?c=users')
  const where = page.locator('input').first()
  await where.fill('{"nickname": "旧昵称"}')
  await page.getByRole('button', { name: '查询' }).click()
  const row = page.getByRole('row', { name: /o-e2e-user/ })
  await row.getByRole('button', { name: '编辑' }).click()
  const editor = page.locator('.t-dialog textarea')
  const text = await editor.inputValue()
  expect(JSON.parse(text).firstSeenAt).toEqual({ $date: '2026-11-01T08:00:00Z' })
  await editor.fill(text.replace('旧昵称', '新昵称'))
  await page.locator('.t-dialog').getByRole('button', { name: '保存' }).click()
  await page.getByText('共 0 条').waitFor()
  const stored = t.cloud.store.find('users', { query: { _id: 'o-e2e-user' } })[0]!
  expect(stored.nickname).toBe('新昵称')
  expect(stored.firstSeenAt).toEqual(new Date('2026-11-01T08:00:00Z'))
})

test('an openid saved in the admins editor is an admin for analytics.access', async () => {
  expect(await callAction(t.url, 'analytics', 'access', {}, ADMIN)).toEqual({ ok: true, data: { admin: false } })
  await open(t.url, 'config?doc=admins')
  const editor = page.locator('[data-testid="editor-app_config-admins"] textarea')
  await editor.fill(JSON.stringify({ _id: 'admins', openids: [ADMIN] }))
  await page.getByText('通过校验').waitFor()
  await page.locator('[data-testid="editor-app_config-admins"]').getByRole('button', { name: '保存' }).click()
  await page.getByText(/已保存 app_config\/admins/).waitFor()
  expect(await callAction(t.url, 'analytics', 'access', {}, ADMIN)).toEqual({ ok: true, data: { admin: true } })
})

test('an invalid funnel shows its typed issue and cannot be saved', async () => {
  await open(t.url, 'config?doc=funnels')
  const box = page.locator('[data-testid="editor-app_config-funnels"]')
  await box.locator('textarea').fill(JSON.stringify({ _id: 'funnels', funnels: [{ id: 'one_step', name: '只有一步', steps: [{ event: 'page_view', label: '首页' }] }] }))
  await box.getByText('a funnel needs at least 2 steps').waitFor()
  await expect(box.locator('[data-testid="issues"]').textContent()).resolves.toContain('funnels.0.steps')
  // TDesign draws a disabled button as a div with the disabled attribute; a click on it saves nothing.
  const save = box.locator('[data-testid="save"]')
  await expect(save.getAttribute('disabled')).resolves.not.toBeNull()
  await save.click({ force: true })
  expect(t.cloud.store.count('app_config', { _id: 'funnels' })).toBe(0)
})

test('a timer run from the console shows its result, and its invocation is listed', async () => {
  await open(t.url, 'timers')
  await page.getByRole('row', { name: /daily-reminder/ }).getByRole('button', { name: '立即运行' }).click()
  const last = page.locator('[data-testid="last-notify-daily-reminder"]')
  await last.waitFor()
  const [run] = t.cloud.ledger.recentInvocations(1, 'notify')
  expect(run).toMatchObject({ source: 'wx_trigger', outcome: 'ok' })
  await expect(last.textContent()).resolves.toContain(run!.requestId.slice(0, 8))
  await open(t.url, 'overview')
  await page.getByRole('row', { name: new RegExp(run!.requestId.slice(0, 8)) }).waitFor()
})

test('a sent subscription message opens with its template, fields, log entry and quota', async () => {
  await callAction(t.url, 'notify', 'record', { outcomes: { feedback_reply: 'accept' } }, 'o-e2e-user')
  const sent = await callAction(t.url, 'notify', 'send', {
    openid: 'o-e2e-user',
    template: 'feedback_reply',
    data: { thing1: '页面白屏', thing2: '已修复，请更新', phrase3: '已回复', time4: '2026-12-01 10:00' },
  }, ADMIN)
  expect(sent).toMatchObject({ ok: true, data: { status: 'sent' } })
  await open(t.url, 'messages')
  const notice = page.locator('[data-testid="notice"]', { hasText: '页面白屏' })
  await notice.getByText('反馈处理结果通知').waitFor()
  await notice.getByText('反馈内容').waitFor()
  await notice.click()
  const detail = page.locator('[data-testid="message-detail"]')
  await detail.waitFor()
  await expect(detail.textContent()).resolves.toMatch(/packages\/feedback\/mine\/index\?msg=feedback_reply/)
  await expect(detail.textContent()).resolves.toContain('"status": "sent"')
})

test('an export re-imported into a new local cloud has the edited document and the admin', async () => {
  const dir = path.join(scratch, 'shared-data')
  await open(t.url, 'data')
  await page.locator('input').first().fill(dir)
  await page.getByRole('button', { name: '导出' }).click()
  await page.getByText(/已导出 \d+ 个集合/).waitFor()

  const other = await startCloud({ importDir: dir })
  try {
    await open(other.url, 'database?c=users')
    await page.getByRole('row', { name: /新昵称/ }).waitFor()
    const user = other.cloud.store.find('users', { query: { _id: 'o-e2e-user' } })[0]!
    expect(user.firstSeenAt).toEqual(new Date('2026-11-01T08:00:00Z'))
    expect(await callAction(other.url, 'analytics', 'access', {}, ADMIN)).toEqual({ ok: true, data: { admin: true } })
    expect(other.cloud.store.count('_outbox', {})).toBe(t.cloud.store.count('_outbox', {}))
  } finally {
    await other.stop()
  }
})
