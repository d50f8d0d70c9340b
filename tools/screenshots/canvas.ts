/**
 * Canvases for the screenshots. A page draws on `<canvas type="2d">` through the node a
 * SelectorQuery gives it; here that node records every property set and method call of its 2D
 * context, in order, and the screenshot replays them on a real canvas in Chromium. `measureText`
 * must answer at once (the poster wraps its text with it), so it sums advance widths Chromium
 * measured beforehand (browser.ts `textMetrics`). Images (`createImage()`) are fetched by the tool
 * and travel to Chromium inline, so the replay does not depend on the local cloud still running.
 */
import type { TextMetrics } from './browser'

export type ReplayOp = ['set', string, unknown] | ['call', string, unknown[]]

/** An image argument, by its index in the canvas's images. */
interface ImageRef {
  $image: number
}

/** `canvas.createImage()`: set `src`, then `onload` or `onerror`. */
export class ReplayImage {
  width = 0
  height = 0
  dataUrl = ''
  onload: (() => void) | null = null
  onerror: ((err: { errMsg: string }) => void) | null = null
  private url = ''
  constructor(private readonly load: (src: string) => Promise<{ dataUrl: string; width: number; height: number }>) {}
  get src(): string {
    return this.url
  }
  set src(value: string) {
    this.url = value
    this.load(value).then(
      (image) => {
        Object.assign(this, image)
        this.onload?.()
      },
      (err: Error) => this.onerror?.({ errMsg: err.message }),
    )
  }
}

/** Parses `bold 16px sans-serif` (as much of the CSS font shorthand as canvases use here). */
function fontOf(font: string): { weight: 'normal' | 'bold'; size: number } {
  const size = Number(/(\d+(?:\.\d+)?)px/.exec(font)?.[1] ?? 10)
  const bold = /\bbold\b|\b[6-9]00\b/.test(font)
  return { weight: bold ? 'bold' : 'normal', size }
}

export function measureWith(metrics: TextMetrics): (font: string, text: string) => number {
  return (font, text) => {
    const { weight, size } = fontOf(font)
    const table = metrics.widths[weight] ?? {}
    let width = 0
    for (const ch of text) width += table[ch] ?? metrics.wide[weight] ?? 100
    return (width * size) / 100
  }
}

const STATE_DEFAULTS: Record<string, unknown> = {
  font: '10px sans-serif',
  fillStyle: '#000000',
  strokeStyle: '#000000',
  lineWidth: 1,
  textAlign: 'start',
  textBaseline: 'alphabetic',
  globalAlpha: 1,
  lineCap: 'butt',
  lineJoin: 'miter',
}

/** A canvas node as `fields({ node: true })` returns it; setting its size clears it, as on a device. */
export class ReplayCanvas {
  ops: ReplayOp[] = []
  readonly images: ReplayImage[] = []
  private w = 300
  private h = 150
  private readonly context: Record<string, unknown>

  constructor(
    measure: (font: string, text: string) => number,
    private readonly load: (src: string) => Promise<{ dataUrl: string; width: number; height: number }>,
  ) {
    const state: Record<string, unknown> = { ...STATE_DEFAULTS }
    const stack: Record<string, unknown>[] = []
    const encode = (arg: unknown): unknown => {
      const index = arg instanceof ReplayImage ? this.images.indexOf(arg) : -1
      return index >= 0 ? ({ $image: index } satisfies ImageRef) : arg
    }
    this.context = new Proxy(
      {},
      {
        get: (_target, prop: string) => {
          if (prop === 'canvas') return this
          if (prop === 'measureText') return (text: string) => ({ width: measure(String(state.font), String(text)) })
          if (prop in state) return state[prop]
          return (...args: unknown[]) => {
            if (prop === 'save') stack.push({ ...state })
            if (prop === 'restore') Object.assign(state, stack.pop() ?? {})
            this.ops.push(['call', prop, args.map(encode)])
            return undefined
          }
        },
        set: (_target, prop: string, value: unknown) => {
          state[prop] = value
          this.ops.push(['set', prop, value])
          return true
        },
      },
    )
  }

  get width(): number {
    return this.w
  }
  set width(value: number) {
    this.w = value
    this.ops = []
  }
  get height(): number {
    return this.h
  }
  set height(value: number) {
    this.h = value
    this.ops = []
  }
  getContext(type: string): unknown {
    if (type !== '2d') throw new Error(`only 2d canvases are replayed, not ${type}`)
    return this.context
  }
  createImage(): ReplayImage {
    const image = new ReplayImage(this.load)
    this.images.push(image)
    return image
  }

  /** What the replay needs: size, images (inline) and the calls. */
  toJSON(): { width: number; height: number; images: string[]; ops: ReplayOp[] } {
    return { width: this.w, height: this.h, images: this.images.map((i) => i.dataUrl), ops: this.ops }
  }
}

/**
 * The script the framed page runs: draws each recorded canvas onto the `<canvas data-canvas=N>`
 * element in the page's frame and resolves `window.__ready` once every image decoded and every
 * canvas is drawn.
 */
export const REPLAY_SCRIPT = `
window.__replay = async function (doc, canvases) {
  for (const [index, c] of canvases.entries()) {
    const el = doc.querySelector('canvas[data-canvas="' + index + '"]')
    if (!el) continue
    el.width = c.width
    el.height = c.height
    const images = await Promise.all(c.images.map((src) => new Promise((resolve) => {
      const img = new Image()
      img.onload = () => resolve(img)
      img.onerror = () => resolve(null)
      img.src = src
    })))
    const ctx = el.getContext('2d')
    for (const op of c.ops) {
      if (op[0] === 'set') ctx[op[1]] = op[2]
      else {
        const args = op[2].map((a) => (a && typeof a === 'object' && '$image' in a ? images[a.$image] : a))
        if (args.some((a) => a === null)) continue
        ctx[op[1]].apply(ctx, args)
      }
    }
  }
}
`
