/**
 * Stored documents are read on a fast path (JSON.parse with a date reviver) when they hold only
 * plain JSON and ISO dates; it must give exactly what the EJSON path gives, for every document.
 */
import { EJSON } from 'bson'
import { decodeDoc, encodeDoc } from '../../tools/local-cloud/db/codec'

const slow = (text: string) => EJSON.parse(text, { relaxed: true }) as Record<string, unknown>

test.each([
  ['dates in range, nested and in arrays', { _id: 'a', ts: new Date('2026-11-24T01:02:03.456Z'), at: [new Date(0), { d: new Date('2030-01-01T00:00:00Z') }] }],
  ['dates outside 1970-9999 (written as $numberLong)', { _id: 'b', old: new Date(-86_400_000), far: new Date(Date.UTC(10000, 0, 1)) }],
  ['strings that look like EJSON', { _id: 'c', s: '{"$date":"2026-01-01T00:00:00Z"}', t: '"$date":"x"', k: '$numberLong' }],
  ['numbers, including ones relaxed EJSON writes specially', { _id: 'd', i: 1, f: 1.5, big: 2 ** 60, inf: Infinity, nan: NaN }],
  ['plain JSON', { _id: 'e', a: [1, 'two', null, true, { b: [] }], u: '中文 😀' }],
])('%s', (_label, doc) => {
  const text = encodeDoc(doc)
  const fast = decodeDoc(text)
  expect(fast).toEqual(slow(text))
  expect(fast).toEqual(doc)
})
