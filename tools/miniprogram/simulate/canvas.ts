/**
 * Canvas for page tests. miniprogram-simulate has no canvas: a SelectorQuery for a `<canvas
 * type="2d">` node answers without `node` and with a size of 0 (jsdom does no layout). This
 * gives such queries a canvas whose 2D context records what is drawn, so a page's charts are
 * drawn through their real code path and the drawing can be asserted. Its images
 * (`canvas.createImage()`) load their `src` over real HTTP and must be PNG files.
 */
import http from 'node:http'
import type { Context2D } from '../../../miniprogram/packages/admin/components/line-chart/draw'
import type { PosterContext } from '../../../miniprogram/packages/incentives/invite/poster'

export type Op =
  | { op: 'moveTo' | 'lineTo'; x: number; y: number; style: unknown }
  | { op: 'arc'; x: number; y: number; r: number; style: unknown }
  | { op: 'fillText'; text: string; x: number; y: number; align: string; baseline: string; style: unknown }
  | { op: 'fillRect'; x: number; y: number; w: number; h: number; style: unknown }
  | { op: 'setTransform' | 'clearRect'; args: number[] }
  | { op: 'beginPath' | 'stroke' | 'fill'; style: unknown }
  | { op: 'drawImage'; image: unknown; x: number; y: number; w: number; h: number }
  | { op: 'save' | 'restore' | 'clip' | 'closePath' }

export type TextOp = Extract<Op, { op: 'fillText' }>

/** A 2D context that records what is drawn. Text measures 6 px per character. */
export class Recorder implements Context2D, PosterContext {
  font = ''
  fillStyle: unknown = '#000'
  strokeStyle: unknown = '#000'
  lineWidth = 1
  textAlign = 'start'
  textBaseline = 'alphabetic'
  ops: Op[] = []
  setTransform(...args: number[]) {
    this.ops.push({ op: 'setTransform', args })
  }
  clearRect(...args: number[]) {
    this.ops.push({ op: 'clearRect', args })
  }
  beginPath() {
    this.ops.push({ op: 'beginPath', style: this.strokeStyle })
  }
  moveTo(x: number, y: number) {
    this.ops.push({ op: 'moveTo', x, y, style: this.strokeStyle })
  }
  lineTo(x: number, y: number) {
    this.ops.push({ op: 'lineTo', x, y, style: this.strokeStyle })
  }
  arc(x: number, y: number, r: number) {
    this.ops.push({ op: 'arc', x, y, r, style: this.fillStyle })
  }
  stroke() {
    this.ops.push({ op: 'stroke', style: this.strokeStyle })
  }
  fill() {
    this.ops.push({ op: 'fill', style: this.fillStyle })
  }
  fillRect(x: number, y: number, w: number, h: number) {
    this.ops.push({ op: 'fillRect', x, y, w, h, style: this.fillStyle })
  }
  fillText(text: string, x: number, y: number) {
    this.ops.push({ op: 'fillText', text, x, y, align: this.textAlign, baseline: this.textBaseline, style: this.fillStyle })
  }
  measureText(text: string) {
    return { width: text.length * 6 }
  }
  save() {
    this.ops.push({ op: 'save' })
  }
  restore() {
    this.ops.push({ op: 'restore' })
  }
  clip() {
    this.ops.push({ op: 'clip' })
  }
  closePath() {
    this.ops.push({ op: 'closePath' })
  }
  drawImage(image: unknown, x: number, y: number, w: number, h: number) {
    this.ops.push({ op: 'drawImage', image, x, y, w, h })
  }

  texts(): TextOp[] {
    return this.ops.filter((o): o is TextOp => o.op === 'fillText')
  }
  /** The one text drawn as `label` (throws when there is none, or more than one). */
  text(label: string): TextOp {
    const found = this.texts().filter((t) => t.text === label)
    if (found.length !== 1) throw new Error(`"${label}" drawn ${found.length} times; texts: ${this.texts().map((t) => t.text).join(', ')}`)
    return found[0]!
  }
  /** The polylines stroked in `color`: each a list of [x, y], a moveTo starting a new one. */
  lines(color: string): [number, number][][] {
    const lines: [number, number][][] = []
    for (const o of this.ops) {
      if ((o.op === 'moveTo' || o.op === 'lineTo') && o.style === color) {
        if (o.op === 'moveTo') lines.push([])
        lines[lines.length - 1]!.push([o.x, o.y])
      }
    }
    return lines
  }
  arcs(color: string): Extract<Op, { op: 'arc' }>[] {
    return this.ops.filter((o): o is Extract<Op, { op: 'arc' }> => o.op === 'arc' && o.style === color)
  }
  /** Every number passed to the context. */
  numbers(): number[] {
    return this.ops.flatMap((o) => ('args' in o ? o.args : Object.values(o).filter((v): v is number => typeof v === 'number')))
  }
}

/** PNG signature, then the IHDR chunk: width and height as big-endian 32-bit integers at bytes 16 and 20. */
function pngSize(bytes: Buffer): { width: number; height: number } | null {
  if (bytes.length < 24 || bytes.readUInt32BE(0) !== 0x89504e47 || bytes.toString('latin1', 12, 16) !== 'IHDR') return null
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) }
}

/** An image made by `canvas.createImage()`: setting `src` fetches it (http only), then `onload` or `onerror`. */
export class FakeImage {
  width = 0
  height = 0
  /** The PNG's bytes once loaded (e.g. to decode a QR code drawn on the poster). */
  bytes: Buffer | null = null
  onload: (() => void) | null = null
  onerror: ((err: { errMsg: string }) => void) | null = null
  private url = ''
  get src() {
    return this.url
  }
  set src(value: string) {
    this.url = value
    const fail = (errMsg: string) => setTimeout(() => this.onerror?.({ errMsg }), 0)
    if (!value.startsWith('http://')) {
      fail(`unsupported image URL: ${value}`)
      return
    }
    http
      .get(value, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const bytes = Buffer.concat(chunks)
          const size = res.statusCode === 200 ? pngSize(bytes) : null
          if (!size) {
            fail(`not a PNG (HTTP ${res.statusCode})`)
            return
          }
          Object.assign(this, size, { bytes })
          this.onload?.()
        })
      })
      .on('error', (err) => fail(err.message))
  }
}

/** A canvas node as `fields({ node: true })` returns it; setting its size clears it, as on a device. */
export class FakeCanvas {
  readonly ctx = new Recorder()
  /** Images made with createImage(), in order. */
  readonly images: FakeImage[] = []
  private w = 300
  private h = 150
  /** How many times it was sized (each draw sizes it first). */
  sized = 0
  get width() {
    return this.w
  }
  set width(value: number) {
    this.w = value
    this.sized++
    this.ctx.ops = []
  }
  get height() {
    return this.h
  }
  set height(value: number) {
    this.h = value
    this.ctx.ops = []
  }
  getContext(type: string) {
    if (type !== '2d') throw new Error(`only 2d contexts here, not ${type}`)
    return this.ctx
  }
  createImage() {
    const image = new FakeImage()
    this.images.push(image)
    return image
  }
}

interface QueueItem {
  selector: string
  exparserNode: { $$: Element; shadowRoot: { querySelector(selector: string): { is?: string; $$: Element } | null } } | 0 | null
  isSelectSingle: boolean
  fields: { node?: boolean; size?: boolean }
}

export interface Canvases {
  /** The canvas inside the component rendered as `host` (e.g. a `<line-chart>` element), once it was queried. */
  of(host: Element): FakeCanvas | undefined
  readonly all: FakeCanvas[]
}

/**
 * From now on, `fields({ node: true })` queries for canvas nodes (in the current module registry:
 * call it right after mountPage) answer with a recording canvas of `size` CSS pixels.
 */
export function recordCanvases(size = { width: 343, height: 180 }): Canvases {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const SelectorQuery = require('j-component/src/tool/selectorquery') as { prototype: { exec(cb?: (res: unknown[]) => void): void; _queue: QueueItem[] } }
  const byNode = new WeakMap<object, FakeCanvas>()
  const byHost = new Map<Element, FakeCanvas>()
  const all: FakeCanvas[] = []
  const original = SelectorQuery.prototype.exec
  SelectorQuery.prototype.exec = function (this: { _queue: QueueItem[] }, callback?: (res: unknown[]) => void) {
    const queue = [...this._queue]
    original.call(this, (res: unknown[]) => {
      queue.forEach((item, i) => {
        if (!item.fields.node || !item.isSelectSingle || !item.exparserNode) return
        const node = item.exparserNode.shadowRoot.querySelector(item.selector)
        if (!node || (node.is !== 'canvas' && node.is !== 'wx-canvas')) return
        let canvas = byNode.get(node)
        if (!canvas) {
          canvas = new FakeCanvas()
          byNode.set(node, canvas)
          byHost.set(item.exparserNode.$$, canvas)
          all.push(canvas)
        }
        res[i] = { ...(res[i] as object), node: canvas, ...(item.fields.size ? size : {}) }
      })
      callback?.(res)
    })
  }
  return { of: (host) => byHost.get(host), all }
}
