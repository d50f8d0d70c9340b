/**
 * `npm start` rebuilds functions while it runs. A syntax error in one function keeps every bundle as
 * it was: the broken function answers with its build error, the others keep answering, and fixing
 * the source brings it back. The functions here are small TypeScript ones in a temporary folder,
 * built by the same watcher `npm start` uses.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { callGateway, startCloud, type TestCloud } from '../helpers/local-cloud'

const dir = path.resolve(__dirname, `../.tmp/watch-${process.pid}-${Date.now().toString(36)}`)
const source = (name: string, body = `return { fn: '${name}', greeting: greet('${name}') }`) =>
  `import { greet } from '../_shared/greet'\nexport async function main() {\n  ${body}\n}\n`

function writeFunction(name: string): void {
  mkdirSync(path.join(dir, name), { recursive: true })
  writeFileSync(path.join(dir, name, 'index.ts'), source(name))
  writeFileSync(path.join(dir, name, 'package.json'), JSON.stringify({ main: 'index.js', dependencies: { 'wx-server-sdk': '4.0.2' } }))
  writeFileSync(path.join(dir, name, 'config.json'), '{}')
}

let t: TestCloud

/** Waits for a line of the cloud's log (the watcher reports each build there). */
async function logged(pattern: RegExp, after: number): Promise<string> {
  for (;;) {
    const line = t.logs.slice(after).find((l) => pattern.test(l))
    if (line) return line
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

const bundle = (name: string) => path.join(dir, name, 'index.js')

beforeAll(async () => {
  mkdirSync(path.join(dir, '_shared'), { recursive: true })
  writeFileSync(path.join(dir, '_shared', 'greet.ts'), "export const greet = (name: string): string => `hello ${name}`\n")
  for (const name of ['alpha', 'beta']) writeFunction(name)
  t = await startCloud({ functionsDir: dir, watch: true, maxWorkers: 1 })
  // The watcher's first build writes the bundles.
  for (const name of ['alpha', 'beta']) {
    while (!existsSync(bundle(name))) await new Promise((resolve) => setTimeout(resolve, 25))
  }
}, 60_000)
afterAll(async () => {
  await t.stop()
  rmSync(dir, { recursive: true, force: true })
})

test('a syntax error in one function: its call answers the build error, the other function and both bundles stay', async () => {
  expect((await callGateway<{ result: { fn: string } }>(t.url, 'alpha', {})).body.result.fn).toBe('alpha')
  const betaBundle = readFileSync(bundle('beta'))
  const alphaBundle = readFileSync(bundle('alpha'))

  const mark = t.logs.length
  writeFileSync(path.join(dir, 'alpha', 'index.ts'), source('alpha', 'return { fn: ('))
  await logged(/alpha failed to build/, mark)

  const broken = await callGateway<{ error: { code: string; message: string } }>(t.url, 'alpha', {})
  expect(broken.status).toBe(500)
  expect(broken.body.error.code).toBe('FUNCTION_BUILD_ERROR')
  expect(broken.body.error.message).toMatch(/alpha[\\/]index\.ts:4:0: Unexpected "}"/)
  expect(broken.body.error.message).not.toMatch(/npm run build/)

  const other = await callGateway<{ result: { fn: string; greeting: string } }>(t.url, 'beta', {})
  expect(other.status).toBe(200)
  expect(other.body.result).toEqual({ fn: 'beta', greeting: 'hello beta' })
  expect(readFileSync(bundle('alpha')).equals(alphaBundle)).toBe(true)
  expect(readFileSync(bundle('beta')).equals(betaBundle)).toBe(true)

  const fixed = t.logs.length
  writeFileSync(path.join(dir, 'alpha', 'index.ts'), source('alpha', "return { fn: 'alpha', greeting: greet('again') }"))
  await logged(/rebuilt alpha/, fixed)
  const back = await callGateway<{ result: { greeting: string } }>(t.url, 'alpha', {})
  expect(back.status).toBe(200)
  expect(back.body.result.greeting).toBe('hello again')
}, 60_000)
