/**
 * `npm run deploy -- --dry-run` on the repository as a fresh clone has it (placeholder AppID and
 * environment, no credentials, no network): the complete plan — every function with its
 * configuration and triggers, every collection, index and rule, the storage rule, the config
 * documents — the problems a real deploy would stop on, and exit code 0. This is the check CI runs.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { collections } from '../../cloudfunctions/_shared/collections'
import { listFunctions } from '../../tools/build'
import { readFunctionConfig } from '../../tools/deploy/desired'
import { ROOT } from '../../tools/paths'

let output = ''
let status: number | null = null
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-dry-run-'))
  // Only what a fresh machine has: no keys, no proxy; a secrets file that does not exist.
  const env = { PATH: process.env.PATH, HOME: process.env.HOME }
  await new Promise<void>((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'deploy', '--', '--dry-run', '--secrets', path.join(dir, 'none')], { cwd: ROOT, env })
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    child.on('close', (code) => {
      status = code
      resolve()
    })
  })
}, 120_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('exits 0 and changes nothing', () => {
  expect(status).toBe(0)
  expect(output).toContain('The environment was not read (no Tencent Cloud API keys)')
  expect(output).toContain('Dry run: nothing was changed. A real deploy would stop on the 5 problems above.')
})

test('lists all 11 functions with runtime, memory, timeout, variables, open-API permissions and every timer trigger', () => {
  const functions = listFunctions()
  expect(functions).toHaveLength(11)
  expect(output).toContain('Functions (11: 11 create)')
  for (const name of functions) {
    const json = readFunctionConfig(name)
    const block = output.slice(output.indexOf(`+ function ${name} [create]`)).split('\n').slice(0, 6).join('\n')
    expect(block).toContain(`Nodejs16.13, 256 MB, timeout ${json.timeout} s`)
    for (const [key, value] of Object.entries(json.envVariables)) expect(block).toContain(`${key}=${value}`)
    expect(block).toContain(`open API: ${json.permissions.openapi.length ? json.permissions.openapi.join(', ') : '(none)'}`)
    for (const trigger of json.triggers) expect(block).toContain(`${trigger.name} "${trigger.config}"`)
  }
})

test('lists every collection, each of its indexes and its rule', () => {
  const names = Object.keys(collections)
  expect(output).toContain(`Database (${names.length + 1}: ${names.length} create, 1 kept)`)
  expect(output).toContain('--seed-demo loads the demo guides')
  for (const [name, spec] of Object.entries(collections)) {
    const start = output.indexOf(`+ collection ${name} [create]`)
    expect(start).toBeGreaterThan(0)
    const block = output.slice(start, start + 1200)
    for (const index of spec.indexes) expect(block).toContain(`index ${index.name} {`)
    expect(block).toContain(`rule ${JSON.stringify(spec.rule)}`)
  }
  expect(output).toContain('openid_1_seq_-1 {openid: 1, seq: -1} unique')
})

test('shows the storage rule and the config documents, with the demo experiment stopped', () => {
  expect(output).toContain('storage rule')
  for (const doc of ['app_config/admins', 'app_config/templates', 'app_config/incentives', 'experiments/home_value_copy', 'app_config/deploy']) expect(output).toContain(`+ ${doc} [create]`)
  expect(output).toContain('demo experiment stored as stopped')
})

test('names each problem a real deploy would stop on, with its fix', () => {
  for (const subject of ['appid', 'envId', 'templates.checkin_reminder', 'templates.feedback_reply', 'templates.ops_alert']) expect(output).toContain(`✗ ${subject}:`)
  expect(output.match(/^\s+fix: /gm)).toHaveLength(5)
})
