/**
 * The screenshot tool (`npm run screenshots`) as a user runs it, on a small fixture mini-program
 * (test/fixtures/screenshots): a page that renders comes out as a 750 × 1624 PNG in its WeChat
 * frame, with its WXSS at 0.5 px per rpx under the navigation bar, plus its full-length shot and
 * the gallery; a page that throws while loading, one whose tap handler throws and one that
 * renders nothing each fail the run with a message naming the state. The real states run in CI
 * (.ci/run) against the real pages.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { PNG } from 'pngjs'
import { pickStates } from '../../tools/screenshots/cli'
import { ROOT } from '../../tools/paths'
import fixtures from '../fixtures/screenshots/states'

jest.setTimeout(180_000)

const out = mkdtempSync(path.join(os.tmpdir(), 'screenshots-test-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

function run(...args: string[]) {
  const tsx = createRequire(__filename).resolve('tsx/cli')
  const res = spawnSync(process.execPath, [tsx, 'tools/screenshots/cli.ts', '--states', 'test/fixtures/screenshots/states.ts', '--out', out, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 })
  return { code: res.status, stdout: res.stdout, stderr: res.stderr }
}

const pixel = (png: PNG, x: number, y: number) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3)]

test('a page that renders: its framed shot at device scale 2, its WXSS in CSS px (1rpx = 0.5px) under the bars, a full-length shot and the gallery', () => {
  const res = run('ok')
  expect(res.stderr).toBe('')
  expect(res.code).toBe(0)
  expect(res.stdout).toMatch(/^screenshots: 1 passed, 0 failed$/m)
  const shot = PNG.sync.read(readFileSync(path.join(out, 'ok.png')))
  expect([shot.width, shot.height]).toEqual([750, 1624])
  // .box: 100rpx margins and 200rpx sides → 50..150 CSS px, below the 44 px status and 44 px navigation bars.
  expect(pixel(shot, 2 * 100, 2 * (88 + 100))).toEqual([255, 0, 0])
  expect(pixel(shot, 2 * 45, 2 * (88 + 100))).toEqual([243, 243, 243]) // app.wxss's page background, left of the box
  expect(pixel(shot, 2 * 155, 2 * (88 + 100))).toEqual([243, 243, 243])
  expect(pixel(shot, 2 * 100, 2 * (88 + 45))).toEqual([243, 243, 243])
  expect(pixel(shot, 2 * 100, 2 * 20)).toEqual([255, 255, 255]) // the navigation bar's white (app.json)
  const full = PNG.sync.read(readFileSync(path.join(out, 'ok.full.png')))
  expect(full.width).toBe(750)
  const gallery = readFileSync(path.join(out, 'index.html'), 'utf8')
  expect(gallery).toContain('src="ok.png"')
  expect(gallery).toContain('href="ok.full.png"')
})

test('a page that throws while loading, one whose tap handler throws and one that renders nothing fail the run, each named with its reason; the others still come out', () => {
  const res = run('--only', 'throws,throws-on-tap,blank,ok')
  expect(res.code).toBe(1)
  expect(res.stderr).toContain('FAILED throws (pages/throws/index): the page threw while loading: onLoad failed on purpose')
  expect(res.stderr).toContain('FAILED throws-on-tap (pages/throws-on-tap/index): the page threw: Error: the tap handler failed on purpose')
  expect(res.stderr).toContain('FAILED blank (pages/blank/index): the page renders nothing')
  expect(res.stdout).toMatch(/^screenshots: 1 passed, 3 failed$/m)
  expect(existsSync(path.join(out, 'ok.png'))).toBe(true)
  expect(existsSync(path.join(out, 'throws.png'))).toBe(false)
  expect(readFileSync(path.join(out, 'index.html'), 'utf8')).toContain('3 failed')
})

test('states are picked by name, or by a group\'s name, in table order; an unknown name is a usage error before anything starts', () => {
  const names = (picked: { name: string }[]) => picked.map((s) => s.name)
  // A state's own name picks it alone; a name no state has picks the group it prefixes.
  expect(names(pickStates(fixtures.states, ['throws']))).toEqual(['throws'])
  const table = ['home', 'home-error', 'admin-overview', 'admin-retention'].map((name) => ({ ...fixtures.states[0]!, name }))
  expect(names(pickStates(table, ['admin']))).toEqual(['admin-overview', 'admin-retention'])
  expect(names(pickStates(table, ['home', 'admin-retention']))).toEqual(['home', 'admin-retention'])
  expect(names(pickStates(fixtures.states, ['blank', 'ok']))).toEqual(['ok', 'blank'])
  expect(pickStates(fixtures.states, []).length).toBe(4)
  expect(() => pickStates(fixtures.states, ['nope'])).toThrow('no such state: nope')
  const res = run('nope')
  expect(res.code).toBe(2)
  expect(res.stderr).toContain('no such state: nope')
})
