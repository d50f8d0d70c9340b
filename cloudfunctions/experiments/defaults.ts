/**
 * Flags and experiments that exist without anyone creating them: used when the `experiments`
 * collection has no document for the key (a document with the key, even an invalid one, wins).
 * To change one in production, save a document with the same `_id` (console or `save`).
 */
import type { ConfigDocInput } from './schema'

/** The home page's value-proposition line: is a more concrete promise opened more? */
export const HOME_VALUE_COPY: ConfigDocInput = {
  _id: 'home_value_copy',
  kind: 'experiment',
  name: '首页价值主张文案',
  hypothesis: 'If the home tagline promises a concrete, same-day payoff, more new visitors open a guide within 7 days, because the benefit is easier to picture.',
  variants: [
    { key: 'control', name: '对照', weight: 0.5, value: '每天 3 分钟，学一个马上用得上的生活技巧' },
    { key: 'b', name: 'B', weight: 0.5, value: '3 分钟一篇，今天就能用上的生活技巧' },
  ],
  coverage: 1,
  goal: { event: 'content_open', withinDays: 7 },
  status: 'running',
}

/** Whether guide cards on the home page show their read count. */
export const HOME_SHOW_READ_COUNT: ConfigDocInput = {
  _id: 'home_show_read_count',
  kind: 'flag',
  description: 'Show the read count on home page guide cards.',
  type: 'boolean',
  defaultValue: true,
  rules: [],
  enabled: true,
}

export const DEFAULT_DOCS: readonly ConfigDocInput[] = [HOME_VALUE_COPY, HOME_SHOW_READ_COUNT]
