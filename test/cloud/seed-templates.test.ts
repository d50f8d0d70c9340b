/**
 * `npm start` gives every registry template a placeholder id, so the subscribe buttons and the
 * reminder timer work locally; ids set by hand are never overwritten.
 */
import { templateKeys } from '../../cloudfunctions/_shared/templates'
import { seedTemplateIds } from '../../tools/local-cloud/seed'
import { callAction, startCloud, type TestCloud } from '../helpers/local-cloud'

jest.setTimeout(180_000)

let t: TestCloud
beforeEach(async () => {
  t = await startCloud()
})
afterEach(() => t?.stop())

test('an empty database gets a placeholder id for every template, and notify.status lists them', async () => {
  expect(seedTemplateIds(t.cloud.store)).toBe(templateKeys.length)
  expect(seedTemplateIds(t.cloud.store)).toBe(0)
  const reply = await callAction<{ templates: { key: string; id: string }[] }>(t.url, 'notify', 'status', {}, 'o-seed')
  if (!reply.ok) throw new Error(JSON.stringify(reply))
  expect(reply.data.templates.map((x) => [x.key, x.id])).toEqual(templateKeys.map((key) => [key, `local-${key}`]))
})

test('ids set by hand are kept', () => {
  t.cloud.store.insert('app_config', [{ _id: 'templates', ids: { checkin_reminder: 'real-id' } }])
  expect(seedTemplateIds(t.cloud.store)).toBe(0)
  expect(t.cloud.store.find('app_config', { query: { _id: 'templates' } })[0]).toEqual({ _id: 'templates', ids: { checkin_reminder: 'real-id' } })
})
