/**
 * A small line chart for canvas 2D, as pure functions: `layout` computes the geometry (plot area,
 * a "nice" y scale, evenly spaced days, one point per value), `draw` paints it on any context with
 * the few 2D methods used here. No chart library: this is all the dashboard needs, in about 3 KB.
 */

export interface Series {
  name: string
  /** A CSS color. */
  color: string
  /** One value per day; null leaves a gap in the line. */
  values: (number | null)[]
}

export interface ChartData {
  /** Calendar days, `YYYY-MM-DD`, one per x position. */
  days: string[]
  series: Series[]
  /** `count`: integer ticks, 1.2万 for large values; `percent`: values are shares (0.425 → 42.5%). */
  format?: 'count' | 'percent'
}

export interface ChartSize {
  /** CSS pixels. */
  width: number
  height: number
  /** Device pixel ratio: the canvas holds width × dpr pixels. */
  dpr: number
}

/** What the chart uses of CanvasRenderingContext2D (WeChat's canvas 2D context implements all of it). */
export interface Context2D {
  font: string
  fillStyle: unknown
  strokeStyle: unknown
  lineWidth: number
  textAlign: string
  textBaseline: string
  setTransform(a: number, b: number, c: number, d: number, e: number, f: number): void
  clearRect(x: number, y: number, w: number, h: number): void
  beginPath(): void
  moveTo(x: number, y: number): void
  lineTo(x: number, y: number): void
  arc(x: number, y: number, r: number, start: number, end: number): void
  stroke(): void
  fill(): void
  fillRect(x: number, y: number, w: number, h: number): void
  fillText(text: string, x: number, y: number): void
  measureText(text: string): { width: number }
}

export interface Point {
  x: number
  y: number
  value: number
}

export interface Layout {
  plot: { left: number; top: number; right: number; bottom: number }
  /** The y value at the top of the plot area, and the gridline values from 0 up to it. */
  yMax: number
  ticks: number[]
  /** x of each day. */
  xs: number[]
  /** Per series, per day: the point, or null for a missing value. */
  points: (Point | null)[][]
  /** Indices of the days that get an x label. */
  labelled: number[]
  empty: boolean
}

export const FONT = '11px sans-serif'
const FONT_SIZE = 11
const LEGEND_HEIGHT = 22
const GAP = 6
/** At most this many day labels under the axis; the most recent day always has one. */
const MAX_X_LABELS = 6
/** Points get dots when there are few enough to tell apart. */
const MAX_DOTS = 31

const GRID = '#ececec'
const LABEL = 'rgba(0, 0, 0, 0.4)'

/**
 * A y scale whose top is a round number: at most `intervals` steps of 1, 2, 2.5 or 5 × 10^k
 * (integers only for counts). Nothing above zero gives a unit scale, so zeros lie on the axis.
 */
export function niceScale(max: number, integer: boolean, intervals = 4): { max: number; step: number } {
  if (!(max > 0)) return integer ? { max: intervals, step: 1 } : { max: 1, step: 1 / intervals }
  const rough = max / intervals
  let step: number
  if (integer && rough <= 5) {
    step = Math.ceil(rough)
  } else {
    const magnitude = 10 ** Math.floor(Math.log10(rough))
    const norm = rough / magnitude
    step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * magnitude
  }
  // Float noise (0.2 × 3 = 0.6000000000000001) must not add an interval or show in labels.
  const clean = (n: number) => Math.round(n * 1e9) / 1e9
  return { max: clean(step * Math.ceil(clean(max / step))), step: clean(step) }
}

/** 12000 → "1.2万", 125000 → "12.5万", 2.5e8 → "2.5亿"; smaller values as they are. */
export function compactNumber(n: number): string {
  const trim = (v: number) => String(Math.round(v * 100) / 100)
  if (Math.abs(n) >= 1e8) return `${trim(n / 1e8)}亿`
  if (Math.abs(n) >= 1e4) return `${trim(n / 1e4)}万`
  return trim(n)
}

/** A value as the chart writes it: 1.2万, or 42.5% for shares. */
export function valueLabel(value: number, format: ChartData['format']): string {
  return format === 'percent' ? `${Math.round(value * 1000) / 10}%` : compactNumber(value)
}

/** `2026-11-24` → `11-24`. */
export function dayLabel(day: string): string {
  return day.slice(5)
}

/** Which days get a label: every k-th counted back from the last, so the latest day is always labelled. */
export function labelledDays(count: number, max = MAX_X_LABELS): number[] {
  if (count === 0) return []
  const every = Math.ceil(count / max)
  const indices: number[] = []
  for (let i = count - 1; i >= 0; i -= every) indices.unshift(i)
  return indices
}

const isValue = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v)

export function layout(ctx: Pick<Context2D, 'measureText' | 'font'>, data: ChartData, size: ChartSize): Layout {
  const format = data.format ?? 'count'
  const n = data.days.length
  const values = data.series.flatMap((s) => s.values.slice(0, n).filter(isValue))
  const empty = n === 0 || values.length === 0
  const scale = niceScale(Math.max(0, ...values), format === 'count')
  const ticks: number[] = []
  for (let i = 0; i * scale.step <= scale.max + 1e-9; i++) ticks.push(Math.round(i * scale.step * 1e9) / 1e9)

  ctx.font = FONT
  const widest = Math.max(...ticks.map((t) => ctx.measureText(valueLabel(t, format)).width))
  const dayWidth = ctx.measureText('00-00').width
  const plot = {
    left: Math.ceil(widest) + GAP + 2,
    // Room for the highest value's label above the top gridline.
    top: (data.series.length > 1 ? LEGEND_HEIGHT : 0) + FONT_SIZE + GAP,
    right: size.width - Math.ceil(dayWidth / 2) - 2,
    bottom: size.height - FONT_SIZE - GAP * 2,
  }
  const width = plot.right - plot.left
  const height = plot.bottom - plot.top
  // One day sits in the middle; more are spread from edge to edge.
  const xs = data.days.map((_, i) => (n === 1 ? plot.left + width / 2 : plot.left + (width * i) / (n - 1)))
  const y = (value: number) => plot.bottom - (height * value) / scale.max
  const points = data.series.map((s) =>
    data.days.map((_, i) => {
      const value = s.values[i]
      return isValue(value) ? { x: xs[i]!, y: y(value), value } : null
    }),
  )
  return { plot, yMax: scale.max, ticks, xs, points, labelled: labelledDays(n), empty }
}

/** Paints the chart and returns its layout. Drawing again (new data, new size) starts from a clear canvas. */
export function draw(ctx: Context2D, data: ChartData, size: ChartSize): Layout {
  const format = data.format ?? 'count'
  ctx.setTransform(size.dpr, 0, 0, size.dpr, 0, 0)
  ctx.clearRect(0, 0, size.width, size.height)
  const geometry = layout(ctx, data, size)
  const { plot } = geometry

  // Gridlines and their values.
  ctx.lineWidth = 1
  ctx.strokeStyle = GRID
  ctx.fillStyle = LABEL
  ctx.textAlign = 'right'
  ctx.textBaseline = 'middle'
  for (const tick of geometry.ticks) {
    const y = plot.bottom - ((plot.bottom - plot.top) * tick) / geometry.yMax
    ctx.beginPath()
    ctx.moveTo(plot.left, y)
    ctx.lineTo(plot.right, y)
    ctx.stroke()
    ctx.fillText(valueLabel(tick, format), plot.left - GAP, y)
  }

  // Days under the axis.
  ctx.textAlign = 'center'
  ctx.textBaseline = 'top'
  for (const i of geometry.labelled) ctx.fillText(dayLabel(data.days[i]!), geometry.xs[i]!, plot.bottom + GAP)

  if (geometry.empty) {
    ctx.textBaseline = 'middle'
    ctx.fillText('暂无数据', (plot.left + plot.right) / 2, (plot.top + plot.bottom) / 2)
    return geometry
  }

  const dots = data.days.length <= MAX_DOTS
  const taken: { x: number; y: number }[] = []
  data.series.forEach((series, s) => {
    const points = geometry.points[s]!
    ctx.strokeStyle = series.color
    ctx.fillStyle = series.color
    ctx.lineWidth = 2
    ctx.beginPath()
    let drawing = false
    for (const p of points) {
      if (!p) {
        drawing = false
        continue
      }
      if (drawing) ctx.lineTo(p.x, p.y)
      else ctx.moveTo(p.x, p.y)
      drawing = true
    }
    ctx.stroke()
    const present = points.filter((p): p is Point => p !== null)
    if (dots || present.length === 1) {
      for (const p of present) {
        ctx.beginPath()
        ctx.arc(p.x, p.y, present.length === 1 ? 3.5 : 2.5, 0, 2 * Math.PI)
        ctx.fill()
      }
    }
    // The series' highest value, written above its point, unless a gridline already says it or
    // another series' label is there.
    const top = present.reduce((best, p) => (p.value > best.value ? p : best), present[0]!)
    const onGrid = geometry.ticks.includes(top?.value ?? 0)
    if (top && !onGrid && !taken.some((t) => Math.abs(t.x - top.x) < 36 && Math.abs(t.y - top.y) < FONT_SIZE + 2)) {
      taken.push(top)
      ctx.textAlign = top.x < plot.left + 18 ? 'left' : top.x > plot.right - 18 ? 'right' : 'center'
      ctx.textBaseline = 'bottom'
      ctx.fillText(valueLabel(top.value, format), top.x, top.y - 4)
    }
  })

  // Legend, when there is more than one line to tell apart.
  if (data.series.length > 1) {
    ctx.textAlign = 'left'
    ctx.textBaseline = 'middle'
    let x = plot.left
    for (const series of data.series) {
      ctx.fillStyle = series.color
      ctx.fillRect(x, LEGEND_HEIGHT / 2 - 1.5, 12, 3)
      ctx.fillStyle = LABEL
      ctx.fillText(series.name, x + 16, LEGEND_HEIGHT / 2)
      x += 16 + ctx.measureText(series.name).width + 16
    }
  }
  return geometry
}
