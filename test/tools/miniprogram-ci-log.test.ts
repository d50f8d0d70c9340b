/** miniprogram-ci's offline "getwhiteextlist ENOTFOUND" errors become one line saying they are harmless. */
import { explainOfflineWhiteList } from '../../tools/miniprogram/ci'

test('the two offline white-list errors print as one explanation; other lines pass through; console.log is restored', async () => {
  const printed: unknown[][] = []
  const original = console.log
  console.log = (...args: unknown[]) => printed.push(args)
  try {
    const result = await explainOfflineWhiteList(async () => {
      console.log('[error]', 'https://servicewechat.com/wxa/ci/getwhiteextlist Error: getaddrinfo ENOTFOUND servicewechat.com')
      console.log('[error]', 'get white ext list fail Error: getaddrinfo ENOTFOUND servicewechat.com')
      console.log('[miniprogram-builder] getservice CI')
      return 42
    })
    expect(result).toBe(42)
    console.log('after')
  } finally {
    console.log = original
  }
  expect(printed).toEqual([
    [expect.stringContaining('servicewechat.com is unreachable (offline)')],
    ['[miniprogram-builder] getservice CI'],
    ['after'],
  ])
})
