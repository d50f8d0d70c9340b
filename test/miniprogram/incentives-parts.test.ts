/**
 * The incentive pages' pure parts: the invite poster's drawing (on a context that records every
 * call: what is drawn where, in which order, clipped how), text fitting, the calendar month, the
 * next-bonus line, the album permission flow and the reminder request (on a fake `wx` that answers
 * as WeChat does), and the small view helpers of the task, points and Me pages.
 */
import type { Calendar, Summary, TaskView } from '../../cloudfunctions/incentives/api'
import { addMonths, makeableDays, monthTitle, monthWeeks, shanghaiMonth, type MonthMarks } from '../../miniprogram/packages/incentives/components/month-grid/calendar'
import { reminderText } from '../../miniprogram/packages/incentives/checkin/reminder'
import { nextBonusText, shortDay } from '../../miniprogram/packages/incentives/checkin/streak'
import { saveToAlbum } from '../../miniprogram/packages/incentives/invite/album'
import { balancedLines, COLORS, drawPoster, fitText, groupedCode, POSTER_SIZE, type PosterInput, wrapText } from '../../miniprogram/packages/incentives/invite/poster'
import { entryTime, row } from '../../miniprogram/packages/incentives/points/rows'
import { sections, taskCard } from '../../miniprogram/packages/incentives/tasks/cards'
import { levelView } from '../../miniprogram/packages/me/level'
import { type Op, Recorder } from './harness/canvas'

// ---- poster ------------------------------------------------------------------------------------

const CODE_IMAGE = { width: 430, height: 430, name: 'code' }
const AVATAR_IMAGE = { width: 132, height: 132, name: 'avatar' }

function poster(overrides: Partial<PosterInput> = {}, scale = 2) {
  const ctx = new Recorder()
  const input: PosterInput = {
    title: '实用指南',
    tagline: '每天 3 分钟，学一个马上用得上的生活技巧',
    nickname: '小满',
    avatar: null,
    code: CODE_IMAGE,
    inviteCode: 'Ab3dEf7h',
    offer: '扫码加入，送你 20 积分',
    ...overrides,
  }
  const layout = drawPoster(ctx, input, scale)
  return { ctx, layout }
}

const images = (ctx: Recorder) => ctx.ops.filter((o): o is Extract<Op, { op: 'drawImage' }> => o.op === 'drawImage')
const inside = (r: { x: number; y: number; w: number; h: number }, outer: { x: number; y: number; w: number; h: number }) =>
  r.x >= outer.x && r.y >= outer.y && r.x + r.w <= outer.x + outer.w && r.y + r.h <= outer.y + outer.h

describe('invite poster', () => {
  test('drawn at the given scale from a clear canvas, the brand background first, everything inside the poster', () => {
    const { ctx, layout } = poster({}, 3)
    expect(ctx.ops[0]).toEqual({ op: 'setTransform', args: [3, 0, 0, 3, 0, 0] })
    expect(ctx.ops[1]).toEqual({ op: 'clearRect', args: [0, 0, POSTER_SIZE.width, POSTER_SIZE.height] })
    expect(ctx.ops[2]).toEqual({ op: 'fillRect', x: 0, y: 0, w: POSTER_SIZE.width, h: POSTER_SIZE.height, style: COLORS.brand })
    const page = { x: 0, y: 0, w: POSTER_SIZE.width, h: POSTER_SIZE.height }
    expect(inside(layout.card, page)).toBe(true)
    for (const text of ctx.texts()) {
      expect(text.align).toBe('center')
      expect(text.x).toBe(POSTER_SIZE.width / 2)
      expect(text.y).toBeGreaterThan(0)
      expect(text.y).toBeLessThan(POSTER_SIZE.height)
    }
  })

  test('the title copy on the brand color, the inviter and the offer on the card, top to bottom', () => {
    const { ctx, layout } = poster()
    expect(ctx.text('实用指南').style).toBe(COLORS.onBrand)
    expect(ctx.text('实用指南').y).toBeLessThan(layout.card.y)
    const tagline = ctx.texts().filter((t) => t.style === COLORS.onBrandMuted)
    expect(tagline.map((t) => t.text).join('')).toBe('每天 3 分钟，学一个马上用得上的生活技巧')
    tagline.forEach((t) => expect(t.y).toBeLessThan(layout.card.y))
    const who = ctx.text('小满 邀请你一起来')
    const offer = ctx.text('扫码加入，送你 20 积分')
    expect(who.y).toBeGreaterThan(layout.avatar.y + layout.avatar.h)
    expect(offer.y).toBeGreaterThan(who.y)
    expect(layout.lines).toEqual(['实用指南', ...tagline.map((t) => t.text), '小满 邀请你一起来', '扫码加入，送你 20 积分', '长按识别小程序码', '邀请码 Ab3d Ef7h'])
  })

  test('a tagline in two lines is balanced and ends above the avatar (14 px text, centred on its y)', () => {
    // 6 px a character here: 43 characters fit the 260 px inside the margins, so 50 take two lines.
    const long = '每'.repeat(50)
    const { ctx, layout } = poster({ tagline: long })
    const tagline = ctx.texts().filter((t) => t.style === COLORS.onBrandMuted)
    expect(tagline.map((t) => t.text.length)).toEqual([25, 25])
    for (const t of tagline) expect(t.y + 7 + 4).toBeLessThanOrEqual(layout.avatar.y)
  })

  test('the mini-program code is drawn square on the card, centered, with the hint and the invite code under it', () => {
    const { ctx, layout } = poster()
    const drawn = images(ctx)
    expect(drawn).toHaveLength(1)
    expect(drawn[0]).toMatchObject({ image: CODE_IMAGE, ...layout.code })
    expect(layout.code.w).toBe(layout.code.h)
    expect(layout.code.x + layout.code.w / 2).toBe(POSTER_SIZE.width / 2)
    expect(inside(layout.code, layout.card)).toBe(true)
    expect(layout.code.y).toBeGreaterThan(ctx.text('扫码加入，送你 20 积分').y)
    const hint = ctx.text('长按识别小程序码')
    expect(hint.y).toBeGreaterThan(layout.code.y + layout.code.h)
    // Read out in two groups of four.
    expect(ctx.text('邀请码 Ab3d Ef7h').y).toBeGreaterThan(hint.y)
    expect(ctx.text('邀请码 Ab3d Ef7h').y).toBeLessThan(layout.card.y + layout.card.h)
    // The card is painted before the code (which would otherwise be hidden under it).
    const cardFill = ctx.ops.findIndex((o) => o.op === 'fill' && o.style === COLORS.card)
    expect(cardFill).toBeGreaterThan(0)
    expect(ctx.ops.indexOf(drawn[0]!)).toBeGreaterThan(cardFill)
  })

  test('an avatar is drawn clipped to a circle, inside save/restore, so nothing after it is clipped', () => {
    const { ctx, layout } = poster({ avatar: AVATAR_IMAGE })
    const at = ctx.ops.findIndex((o) => o.op === 'drawImage' && o.image === AVATAR_IMAGE)
    expect(ctx.ops[at]).toMatchObject({ x: layout.avatar.x, y: layout.avatar.y, w: 48, h: 48 })
    const before = ctx.ops.slice(0, at)
    const save = before.map((o) => o.op).lastIndexOf('save')
    expect(before.slice(save).map((o) => o.op)).toEqual(['save', 'beginPath', 'arc', 'closePath', 'clip'])
    expect(before.slice(save).find((o) => o.op === 'arc')).toMatchObject({ x: POSTER_SIZE.width / 2, y: layout.avatar.y + 24, r: 24 })
    const restore = ctx.ops.findIndex((o, i) => i > at && o.op === 'restore')
    expect(restore).toBe(at + 1)
    expect(ctx.ops.slice(restore).some((o) => o.op === 'drawImage' && o.image === CODE_IMAGE)).toBe(true)
    // No initial when there is a picture.
    expect(ctx.texts().map((t) => t.text)).not.toContain('小')
  })

  test('without an avatar: a brand circle with the first character of the name, emoji kept whole; no name reads 微信用户', () => {
    const a = poster({ nickname: '🌱小满' })
    expect(a.ctx.text('🌱').style).toBe(COLORS.onBrand)
    expect(a.ctx.text('🌱').y).toBe(a.layout.avatar.y + 24)
    expect(a.ctx.ops.some((o) => o.op === 'clip')).toBe(false)
    const b = poster({ nickname: '   ' })
    expect(b.ctx.text('微')).toBeDefined()
    expect(b.ctx.text('微信用户 邀请你一起来')).toBeDefined()
  })

  test('a long nickname and a long tagline are cut to fit, ending with …', () => {
    const { ctx } = poster({ nickname: '名'.repeat(40), tagline: '长'.repeat(200) })
    const who = ctx.texts().find((t) => t.text.startsWith('名名'))!
    expect(who.text.endsWith('…')).toBe(true)
    expect(who.text.length * 6).toBeLessThanOrEqual(POSTER_SIZE.width - 40 - 24)
    const tagline = ctx.texts().filter((t) => t.style === COLORS.onBrandMuted)
    expect(tagline).toHaveLength(2)
    expect(tagline[1]!.text.endsWith('…')).toBe(true)
    tagline.forEach((t) => expect(t.text.length * 6).toBeLessThanOrEqual(POSTER_SIZE.width - 40))
  })
})

describe('text fitting (6 px per character on the recording context)', () => {
  const ctx = new Recorder()
  test('fitText keeps what fits and cuts the rest with …', () => {
    expect(fitText(ctx, 'abcdef', 36)).toBe('abcdef')
    expect(fitText(ctx, 'abcdefg', 36)).toBe('abcde…')
    // An emoji is two UTF-16 units (12 px here): it is kept whole or left out, never cut in half.
    expect(fitText(ctx, '🌱🌱🌱🌱', 18)).toBe('🌱…')
    expect(fitText(ctx, '🌱🌱🌱🌱', 15)).toBe('…')
  })
  test('wrapText breaks character by character and stops at maxLines', () => {
    expect(wrapText(ctx, 'a'.repeat(25), 60, 2)).toEqual(['a'.repeat(10), `${'a'.repeat(9)}…`])
    expect(wrapText(ctx, 'a'.repeat(20), 60, 2)).toEqual(['a'.repeat(10), 'a'.repeat(10)])
    expect(wrapText(ctx, '每天三分钟', 60, 2)).toEqual(['每天三分钟'])
    expect(wrapText(ctx, '', 60, 2)).toEqual([])
  })
  test('balancedLines takes as many lines as wrapping does, each as long as the others: nothing left alone on the last line', () => {
    expect(wrapText(ctx, 'a'.repeat(11), 60, 2)).toEqual(['a'.repeat(10), 'a'])
    expect(balancedLines(ctx, 'a'.repeat(11), 60, 2)).toEqual(['a'.repeat(6), 'a'.repeat(5)])
    expect(balancedLines(ctx, '生活技巧每天学', 60, 2)).toEqual(['生活技巧每天学'])
    // Cut with … when it does not fit: left as wrapping cut it.
    expect(balancedLines(ctx, 'a'.repeat(25), 60, 2)).toEqual(['a'.repeat(10), `${'a'.repeat(9)}…`])
  })
  test('an invite code in two groups of four', () => {
    expect(groupedCode('XP47MDYR')).toBe('XP47 MDYR')
    expect(groupedCode('short')).toBe('short')
  })
})

// ---- calendar ----------------------------------------------------------------------------------

describe('calendar month', () => {
  const marks = (over: Partial<MonthMarks> = {}): MonthMarks => ({ today: '2026-11-24', since: '2026-11-03', checked: [], madeUp: [], makeable: [], ...over })
  const cells = (month: string, m: MonthMarks) => monthWeeks(month, m).flat()

  test('weeks start on Sunday; blanks before the 1st and after the last day fill whole weeks', () => {
    // 2026-11-01 is a Sunday, 30 days: 5 weeks.
    const nov = monthWeeks('2026-11', marks())
    expect(nov).toHaveLength(5)
    expect(nov.every((w) => w.length === 7)).toBe(true)
    expect(nov[0]![0]).toMatchObject({ day: '2026-11-01', date: 1 })
    expect(nov[4]!.map((c) => c.date)).toEqual([29, 30, 0, 0, 0, 0, 0])
    // 2024-02-01 is a Thursday, 29 days (leap year).
    const feb = cells('2024-02', marks({ today: '2024-03-01', since: '2024-01-01' }))
    expect(feb.slice(0, 5).map((c) => c.day)).toEqual(['', '', '', '', '2024-02-01'])
    expect(feb.filter((c) => c.day).map((c) => c.date)).toEqual(Array.from({ length: 29 }, (_, i) => i + 1))
    // 2026-02: Sunday the 1st, 28 days: exactly 4 weeks, no blanks.
    expect(cells('2026-02', marks()).every((c) => c.day)).toBe(true)
    expect(monthWeeks('2026-02', marks())).toHaveLength(4)
  })

  test('each day: checked, made up, missed (makeable when the cloud says so), today, idle before joining and after today', () => {
    const all = cells('2026-11', marks({ checked: ['2026-11-20', '2026-11-21'], madeUp: ['2026-11-22'], makeable: ['2026-11-23', '2026-11-02', '2026-11-10'] }))
    const at = (d: number) => all.find((c) => c.date === d)!
    expect(at(20)).toMatchObject({ state: 'checked', makeable: false })
    expect(at(22)).toMatchObject({ state: 'makeup', makeable: false })
    expect(at(23)).toMatchObject({ state: 'missed', makeable: true })
    expect(at(10)).toMatchObject({ state: 'missed', makeable: true })
    expect(at(11)).toMatchObject({ state: 'missed', makeable: false })
    expect(at(24)).toMatchObject({ state: 'today', isToday: true })
    expect(at(25)).toMatchObject({ state: 'idle', makeable: false })
    // Before the user joined: not missed, and never offered for a make-up.
    expect(at(2)).toMatchObject({ state: 'idle', makeable: false })
    expect(at(3)).toMatchObject({ state: 'missed' })
    // Checked today: today stays marked as today.
    expect(cells('2026-11', marks({ checked: ['2026-11-24'] })).find((c) => c.date === 24)).toMatchObject({ state: 'checked', isToday: true })
  })

  test('make-ups offered: as many missed days as the month still allows, the most recent first (they join the current streak); none when used up', () => {
    const missed = ['2026-11-23', '2026-11-18', '2026-11-20', '2026-11-21', '2026-11-19']
    expect(makeableDays(missed, 1)).toEqual(['2026-11-23'])
    expect(makeableDays(missed, 2)).toEqual(['2026-11-21', '2026-11-23'])
    expect(makeableDays(missed, 9)).toEqual(['2026-11-18', '2026-11-19', '2026-11-20', '2026-11-21', '2026-11-23'])
    expect(makeableDays(missed, 0)).toEqual([])
    expect(makeableDays([], 3)).toEqual([])
  })

  test('months: next and previous across years, titles, the Shanghai month of an instant', () => {
    expect(addMonths('2026-11', 1)).toBe('2026-12')
    expect(addMonths('2026-12', 1)).toBe('2027-01')
    expect(addMonths('2026-01', -1)).toBe('2025-12')
    expect(addMonths('2026-03', -14)).toBe('2025-01')
    expect(monthTitle('2026-03')).toBe('2026年3月')
    expect(shanghaiMonth(Date.parse('2026-11-30T16:30:00Z'))).toBe('2026-12')
    expect(shanghaiMonth(Date.parse('2026-11-30T15:59:00Z'))).toBe('2026-11')
  })
})

describe('the next bonus line', () => {
  const upcoming = (rewards: number[], from = 1): Calendar['upcoming'] => rewards.map((reward, i) => ({ day: `2026-11-${String(24 + i).padStart(2, '0')}`, streak: from + i, reward }))
  test('counts the check-ins to the next day that earns more than a plain day', () => {
    expect(nextBonusText(upcoming([5, 5, 10, 5, 5, 5, 35]))).toBe('再签 3 天，连续第 3 天可得 10 积分')
    expect(nextBonusText(upcoming([5, 5, 35, 5, 5, 10, 5], 5))).toBe('再签 3 天，连续第 7 天可得 35 积分')
    expect(nextBonusText(upcoming([35, 5, 5, 10, 5, 5, 5], 7))).toBe('下次签到是连续第 7 天，可得 35 积分')
  })
  test('nothing when no day earns more, or nothing is known', () => {
    expect(nextBonusText(upcoming([5, 5, 5, 5, 5, 5, 5]))).toBe('')
    expect(nextBonusText([])).toBe('')
  })
  test('days as 11月3日', () => {
    expect(shortDay('2026-11-03')).toBe('11月3日')
  })
})

// ---- album and reminder, on a fake wx ------------------------------------------------------------

type Answer = { ok: true; res?: unknown } | { ok: false; errMsg: string }

/** A `wx` whose permission APIs answer as scripted, recording every call in order. */
function fakeWx(script: { setting?: boolean; authorize?: Answer; modal?: boolean; openSetting?: boolean; save?: Answer }) {
  const calls: [string, unknown][] = []
  const answer = (name: string, a: Answer | undefined, options: { success?: (r: unknown) => void; fail?: (e: unknown) => void }) => {
    calls.push([name, options])
    setTimeout(() => (!a || a.ok ? options.success?.(a && a.ok ? a.res : {}) : options.fail?.({ errMsg: a.errMsg })), 0)
  }
  const authSetting = (value: boolean | undefined) => (value === undefined ? {} : { 'scope.writePhotosAlbum': value })
  ;(globalThis as Record<string, unknown>).wx = {
    getSetting: (o: never) => answer('getSetting', { ok: true, res: { authSetting: authSetting(script.setting) } }, o),
    authorize: (o: never) => answer('authorize', script.authorize, o),
    showModal: (o: never) => answer('showModal', { ok: true, res: { confirm: script.modal === true, cancel: script.modal !== true } }, o),
    openSetting: (o: never) => answer('openSetting', { ok: true, res: { authSetting: authSetting(script.openSetting) } }, o),
    saveImageToPhotosAlbum: (o: never) => answer('saveImageToPhotosAlbum', script.save, o),
  }
  return calls
}

describe('saving to the album', () => {
  const file = jest.fn(() => Promise.resolve('wxfile://tmp/poster.png'))
  beforeEach(() => file.mockClear())
  const names = (calls: [string, unknown][]) => calls.map(([name]) => name)

  test('allowed before: saved at once, without asking', async () => {
    const calls = fakeWx({ setting: true })
    await expect(saveToAlbum(file)).resolves.toBe('saved')
    expect(names(calls)).toEqual(['getSetting', 'saveImageToPhotosAlbum'])
    expect(calls[1]![1]).toMatchObject({ filePath: 'wxfile://tmp/poster.png' })
  })

  test('never asked: WeChat asks (authorize); yes saves, no is denied and nothing is exported or saved', async () => {
    const yes = fakeWx({ authorize: { ok: true } })
    await expect(saveToAlbum(file)).resolves.toBe('saved')
    expect(names(yes)).toEqual(['getSetting', 'authorize', 'saveImageToPhotosAlbum'])
    expect(yes[1]![1]).toMatchObject({ scope: 'scope.writePhotosAlbum' })

    file.mockClear()
    const no = fakeWx({ authorize: { ok: false, errMsg: 'authorize:fail auth deny' } })
    await expect(saveToAlbum(file)).resolves.toBe('denied')
    expect(names(no)).toEqual(['getSetting', 'authorize'])
    expect(file).not.toHaveBeenCalled()
  })

  test('refused before: a dialog explains and leads to the settings page; turned on there, it saves', async () => {
    const calls = fakeWx({ setting: false, modal: true, openSetting: true })
    await expect(saveToAlbum(file)).resolves.toBe('saved')
    expect(names(calls)).toEqual(['getSetting', 'showModal', 'openSetting', 'saveImageToPhotosAlbum'])
    expect(calls[1]![1]).toMatchObject({ title: '需要相册权限', confirmText: '去设置' })
  })

  test('refused before, and left off in the settings: denied; the dialog dismissed: cancelled, settings not opened', async () => {
    const off = fakeWx({ setting: false, modal: true, openSetting: false })
    await expect(saveToAlbum(file)).resolves.toBe('denied')
    expect(names(off)).toEqual(['getSetting', 'showModal', 'openSetting'])
    const dismissed = fakeWx({ setting: false, modal: false })
    await expect(saveToAlbum(file)).resolves.toBe('cancelled')
    expect(names(dismissed)).toEqual(['getSetting', 'showModal'])
    expect(file).not.toHaveBeenCalled()
  })

  test('the save itself: cancelled by the user is not an error; a revoked permission is denied; anything else failed', async () => {
    fakeWx({ setting: true, save: { ok: false, errMsg: 'saveImageToPhotosAlbum:fail cancel' } })
    await expect(saveToAlbum(file)).resolves.toBe('cancelled')
    fakeWx({ setting: true, save: { ok: false, errMsg: 'saveImageToPhotosAlbum:fail auth deny' } })
    await expect(saveToAlbum(file)).resolves.toBe('denied')
    fakeWx({ setting: true, save: { ok: false, errMsg: 'saveImageToPhotosAlbum:fail file not exists' } })
    await expect(saveToAlbum(file)).resolves.toBe('failed')
    fakeWx({ setting: true })
    await expect(saveToAlbum(() => Promise.reject({ errMsg: 'canvasToTempFilePath:fail canvas is empty' }))).resolves.toBe('failed')
  })
})

describe('the reminder offer (the subscribe button asks; the page says what happened)', () => {
  test('an accept or an earlier accept is confirmed, declining says nothing, the rest say why', () => {
    expect(reminderText('accepted')).toBe('好的，明天提醒你签到')
    expect(reminderText('subscribed')).toBe('好的，明天提醒你签到')
    expect(reminderText('rejected')).toBe('')
    expect(reminderText('switched_off')).toBe('你关闭了订阅消息，可在右上角 ··· > 设置中打开')
    expect(reminderText('unsupported')).toBe('微信版本过低，暂不支持提醒')
    expect(reminderText('failed')).toBe('提醒暂时开启不了，请稍后再试')
  })
})

// ---- view helpers -------------------------------------------------------------------------------

describe('view helpers', () => {
  const level = (index: number, name: string, minPoints: number, perks: string[] = []) => ({ index, name, minPoints, perks })

  test('Me: the level card goes by lifetime points from this level to the next', () => {
    const summary = (lifetime: number, balance: number, next: Summary['next']): Summary => ({
      balance,
      lifetime,
      level: level(1, '青铜', 100, ['每日签到领积分', '专属青铜徽章']),
      next,
      streak: 0,
      checkedInToday: false,
      today: '2026-11-24',
      todayReward: 5,
      makeup: { enabled: true, cost: 20, daysBack: 7, remainingThisMonth: 3 },
    })
    // 250 of 100..500: 37.5% → 38; spending (balance 80) does not move it.
    expect(levelView(summary(250, 80, { ...level(2, '白银', 500), pointsToGo: 250 }))).toEqual({
      name: '青铜',
      balance: 80,
      percent: 38,
      nextText: '再得 250 积分升级为「白银」',
      perks: ['每日签到领积分', '专属青铜徽章'],
    })
    expect(levelView(summary(9000, 9000, null))).toMatchObject({ percent: 100, nextText: '已是最高等级' })
  })

  test('tasks: progress capped at the target, as a bar width and a count', () => {
    const task = (progress: number, target: number): TaskView => ({
      id: 'read-5', kind: 'read', title: '阅读 5 篇指南', description: '', points: 30, newUser: false, progress, target, completed: progress >= target, claimable: progress >= target, claimed: false,
    })
    expect(taskCard(task(2, 5))).toMatchObject({ percent: 40, progressText: '2/5' })
    expect(taskCard(task(7, 5))).toMatchObject({ percent: 100, progressText: '5/5' })
    expect(taskCard(task(0, 1))).toMatchObject({ percent: 0, progressText: '0/1' })
  })

  test('points: an entry as the history shows it, in Shanghai time', () => {
    expect(entryTime('2026-11-24T12:05:00.000Z')).toBe('11月24日 20:05')
    expect(entryTime('2026-11-30T16:30:00.000Z')).toBe('12月1日 00:30')
    expect(entryTime('not a date')).toBe('')
    const base = { seq: 3, reason: 'makeup' as const, title: '补签 11月20日', day: '2026-11-20', at: '2026-11-24T12:05:00.000Z' }
    expect(row({ ...base, amount: -20, balanceAfter: 15 })).toEqual({ seq: 3, title: '补签 11月20日', amountText: '-20', spent: true, when: '11月24日 20:05', balanceText: '余额 15' })
    // Make-ups recorded before the titles named the day that way read the same.
    expect(row({ ...base, title: '补签 2026-11-05', amount: -20, balanceAfter: 15 }).title).toBe('补签 11月5日')
    expect(row({ ...base, title: '每日签到（连续 3 天）', amount: 10, balanceAfter: 25 }).title).toBe('每日签到（连续 3 天）')
    expect(row({ ...base, amount: 5, balanceAfter: 40 })).toMatchObject({ amountText: '+5', spent: false })
  })
})
