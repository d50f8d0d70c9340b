/**
 * The invite poster, as pure functions over a canvas 2D context: `drawPoster` paints the brand
 * background, the title copy, the inviter (avatar or initial, nickname), the mini-program code and
 * the invite code, and returns where each part landed. The page only finds the canvas, loads the
 * images and saves the result; everything drawn is decided here and testable on a recording context.
 */

/** An image made by `canvas.createImage()` once it has loaded. */
export interface PosterImage {
  width: number
  height: number
}

/** What the poster uses of CanvasRenderingContext2D (WeChat's canvas 2D context implements all of it). */
export interface PosterContext {
  font: string
  fillStyle: unknown
  textAlign: string
  textBaseline: string
  setTransform(a: number, b: number, c: number, d: number, e: number, f: number): void
  clearRect(x: number, y: number, w: number, h: number): void
  fillRect(x: number, y: number, w: number, h: number): void
  fillText(text: string, x: number, y: number): void
  measureText(text: string): { width: number }
  beginPath(): void
  moveTo(x: number, y: number): void
  lineTo(x: number, y: number): void
  arc(x: number, y: number, r: number, start: number, end: number): void
  closePath(): void
  fill(): void
  save(): void
  restore(): void
  clip(): void
  drawImage(image: PosterImage, x: number, y: number, w: number, h: number): void
}

export interface PosterInput {
  /** The app's name, large at the top. */
  title: string
  /** One sentence under the title (wrapped to two lines at most). */
  tagline: string
  /** The inviter's name ('' shows a generic name). */
  nickname: string
  /** The inviter's avatar, loaded; without one the first character of the name stands in. */
  avatar: PosterImage | null
  /** The inviter's mini-program code (wxacode.getUnlimited), loaded. */
  code: PosterImage
  /** Printed under the mini-program code, so the poster says whose invite it is (e.g. to support). */
  inviteCode: string
  /** What the invited friend gets, e.g. "扫码加入，你我各得 50 积分". */
  offer: string
}

export interface Rect {
  x: number
  y: number
  w: number
  h: number
}

export interface PosterLayout {
  card: Rect
  avatar: Rect
  code: Rect
  /** Every line of text drawn, top to bottom. */
  lines: string[]
}

/** CSS pixels; the canvas holds width × scale by height × scale device pixels. */
export const POSTER_SIZE = { width: 300, height: 480 }

export const COLORS = { brand: '#0052d9', card: '#ffffff', text: 'rgba(0, 0, 0, 0.9)', muted: 'rgba(0, 0, 0, 0.45)', onBrand: '#ffffff', onBrandMuted: 'rgba(255, 255, 255, 0.8)' }

const FONT_FAMILY = 'sans-serif'
const font = (size: number, bold = false) => `${bold ? 'bold ' : ''}${size}px ${FONT_FAMILY}`
const MARGIN = 20
const CARD_TOP = 128
const CARD_RADIUS = 12
const AVATAR = 48
const CODE = 160

/** Splits into characters by code point, so an emoji is never cut in half. */
const chars = (text: string) => Array.from(text)

/** `text` cut to fit `maxWidth`, ending with "…" when something had to go. */
export function fitText(ctx: Pick<PosterContext, 'measureText'>, text: string, maxWidth: number): string {
  if (ctx.measureText(text).width <= maxWidth) return text
  const all = chars(text)
  for (let n = all.length - 1; n > 0; n--) {
    const cut = `${all.slice(0, n).join('')}…`
    if (ctx.measureText(cut).width <= maxWidth) return cut
  }
  return '…'
}

/**
 * Wraps `text` into at most `maxLines` lines of `maxWidth`, character by character (Chinese has no
 * spaces to break at); the last line ends with "…" when the text does not fit.
 */
export function wrapText(ctx: Pick<PosterContext, 'measureText'>, text: string, maxWidth: number, maxLines: number): string[] {
  const lines: string[] = []
  let line = ''
  const all = chars(text)
  for (let i = 0; i < all.length; i++) {
    const next = line + all[i]
    if (line && ctx.measureText(next).width > maxWidth) {
      if (lines.length === maxLines - 1) {
        lines.push(fitText(ctx, `${line}${all.slice(i).join('')}`, maxWidth))
        return lines
      }
      lines.push(line)
      line = all[i]!
    } else {
      line = next
    }
  }
  if (line) lines.push(line)
  return lines
}

/**
 * `text` in as many lines as it needs at `maxWidth` (at most `maxLines`), each as long as the
 * others: the narrowest width that still needs no more lines, so no character is left alone on
 * the last line.
 */
export function balancedLines(ctx: Pick<PosterContext, 'measureText'>, text: string, maxWidth: number, maxLines: number): string[] {
  const lines = wrapText(ctx, text, maxWidth, maxLines)
  if (lines.length < 2 || lines[lines.length - 1]!.endsWith('…')) return lines
  let best = lines
  for (let width = maxWidth - 1; width > 0; width--) {
    const tighter = wrapText(ctx, text, width, maxLines)
    if (tighter.length !== lines.length || tighter[tighter.length - 1]!.endsWith('…')) break
    best = tighter
  }
  return best
}

/** An invite code as people read it out: two groups of four (`XP47 MDYR`). */
export function groupedCode(code: string): string {
  return code.length === 8 ? `${code.slice(0, 4)} ${code.slice(4)}` : code
}

function roundRect(ctx: PosterContext, r: Rect, radius: number): void {
  const { x, y, w, h } = r
  ctx.beginPath()
  ctx.moveTo(x + radius, y)
  ctx.lineTo(x + w - radius, y)
  ctx.arc(x + w - radius, y + radius, radius, -Math.PI / 2, 0)
  ctx.lineTo(x + w, y + h - radius)
  ctx.arc(x + w - radius, y + h - radius, radius, 0, Math.PI / 2)
  ctx.lineTo(x + radius, y + h)
  ctx.arc(x + radius, y + h - radius, radius, Math.PI / 2, Math.PI)
  ctx.lineTo(x, y + radius)
  ctx.arc(x + radius, y + radius, radius, Math.PI, (3 * Math.PI) / 2)
  ctx.closePath()
}

/** Paints the poster at `scale` device pixels per CSS pixel and returns its layout. */
export function drawPoster(ctx: PosterContext, input: PosterInput, scale: number): PosterLayout {
  const { width, height } = POSTER_SIZE
  const center = width / 2
  const inner = width - MARGIN * 2
  const lines: string[] = []
  const text = (value: string, y: number, size: number, color: string, bold = false) => {
    ctx.font = font(size, bold)
    ctx.fillStyle = color
    ctx.fillText(value, center, y)
    lines.push(value)
  }

  ctx.setTransform(scale, 0, 0, scale, 0, 0)
  ctx.clearRect(0, 0, width, height)
  ctx.fillStyle = COLORS.brand
  ctx.fillRect(0, 0, width, height)
  ctx.textAlign = 'center'
  ctx.textBaseline = 'middle'

  ctx.font = font(24, true)
  text(fitText(ctx, input.title, inner), 40, 24, COLORS.onBrand, true)
  ctx.font = font(14)
  // Ends well above the avatar, which sits on the card's top edge (at CARD_TOP - 20).
  balancedLines(ctx, input.tagline, inner, 2).forEach((line, i) => text(line, 70 + i * 20, 14, COLORS.onBrandMuted))

  const card = { x: MARGIN, y: CARD_TOP, w: inner, h: height - CARD_TOP - MARGIN }
  ctx.fillStyle = COLORS.card
  roundRect(ctx, card, CARD_RADIUS)
  ctx.fill()

  // The avatar sits on the card's top edge, half over the brand color.
  const avatar = { x: center - AVATAR / 2, y: card.y - AVATAR / 2 + 4, w: AVATAR, h: AVATAR }
  const name = input.nickname.trim() || '微信用户'
  ctx.save()
  ctx.beginPath()
  ctx.arc(center, avatar.y + AVATAR / 2, AVATAR / 2, 0, 2 * Math.PI)
  ctx.closePath()
  if (input.avatar) {
    ctx.clip()
    ctx.drawImage(input.avatar, avatar.x, avatar.y, AVATAR, AVATAR)
  } else {
    ctx.fillStyle = COLORS.brand
    ctx.fill()
    ctx.textAlign = 'center'
    ctx.font = font(22, true)
    ctx.fillStyle = COLORS.onBrand
    ctx.fillText(chars(name)[0] ?? '', center, avatar.y + AVATAR / 2)
  }
  ctx.restore()

  ctx.font = font(16, true)
  text(fitText(ctx, `${name} 邀请你一起来`, inner - 24), avatar.y + AVATAR + 20, 16, COLORS.text, true)
  ctx.font = font(13)
  text(fitText(ctx, input.offer, inner - 24), avatar.y + AVATAR + 44, 13, COLORS.muted)

  const code = { x: center - CODE / 2, y: avatar.y + AVATAR + 66, w: CODE, h: CODE }
  ctx.drawImage(input.code, code.x, code.y, code.w, code.h)
  text('长按识别小程序码', code.y + CODE + 20, 13, COLORS.muted)
  text(`邀请码 ${groupedCode(input.inviteCode)}`, code.y + CODE + 40, 13, COLORS.text, true)

  return { card, avatar, code, lines }
}
