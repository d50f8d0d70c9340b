/**
 * Grey placeholder rows while a page's content loads, drawn as TDesign's t-skeleton draws text rows
 * (same `--td-skeleton-*` tokens, sizes and gradient sweep) for the few shapes the pages use: one
 * column per row, a width and a height, or a circle. It lives in the main package, where t-skeleton
 * (5.5 KB with its logic for row/column layouts and delays) weighed on every launch.
 */
export interface SkeletonRow {
  width?: string
  height?: string
  /** A round placeholder (an avatar) of `size`. */
  type?: 'circle'
  size?: string
}

Component({
  options: { virtualHost: true },
  properties: {
    /** Top to bottom; a row without a height is a line of text (32rpx). */
    rows: { type: Array, value: [] as SkeletonRow[] },
  },
})
