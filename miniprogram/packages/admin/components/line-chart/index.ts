/**
 * `<line-chart days series format height>`: a line chart on a canvas 2D node. The drawing is the
 * pure `draw` function (./draw.ts); this component only finds the canvas, sizes it for the
 * screen's pixel ratio and draws again whenever the data changes.
 */
import { type ChartData, type Context2D, draw, type Series, valueLabel } from './draw'

function pixelRatio(): number {
  try {
    return wx.getWindowInfo().pixelRatio || 1
  } catch {
    return 1
  }
}

/** A sentence for screen readers: each line's latest value. */
function summarize(data: ChartData): string {
  const last = data.days.length - 1
  if (last < 0) return '暂无数据'
  return data.series
    .map((s) => {
      const value = s.values[last]
      return `${s.name}：${typeof value === 'number' ? valueLabel(value, data.format) : '—'}`
    })
    .join('，')
}

Component({
  properties: {
    days: { type: Array, value: [] as string[] },
    series: { type: Array, value: [] as Series[] },
    format: { type: String, value: 'count' },
    /** CSS pixels. */
    height: { type: Number, value: 180 },
  },

  data: { summary: '' },

  observers: {
    'days, series, format, height'() {
      this.paint()
    },
  },

  lifetimes: {
    ready() {
      this.paint()
    },
  },

  methods: {
    paint() {
      const data: ChartData = {
        days: this.data.days as string[],
        series: this.data.series as Series[],
        format: this.data.format === 'percent' ? 'percent' : 'count',
      }
      const summary = summarize(data)
      if (summary !== this.data.summary) this.setData({ summary })
      this.createSelectorQuery()
        .select('.line-chart')
        .fields({ node: true, size: true })
        .exec((res: ({ node?: WechatMiniprogram.Canvas; width?: number; height?: number } | null)[]) => {
          const found = res[0]
          // Not laid out yet (or hidden): the next change or `ready` draws it.
          if (!found?.node || !found.width || !found.height) return
          const canvas = found.node
          const dpr = pixelRatio()
          // Sized in device pixels (which also resets the context), drawn in CSS pixels.
          canvas.width = Math.round(found.width * dpr)
          canvas.height = Math.round(found.height * dpr)
          draw(canvas.getContext('2d') as unknown as Context2D, data, { width: found.width, height: found.height, dpr })
        })
    },
  },
})
