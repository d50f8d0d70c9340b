/**
 * Running the deploy tools (tools/deploy/cli.ts, release.ts) as a user does — in a process of their
 * own, with only PATH and HOME from this environment plus what a test passes — against a
 * FakeWeChatCloud started with a fresh code-upload key pair.
 */
import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ROOT } from '../../tools/paths'
import { FakeWeChatCloud } from './fake-wechat-cloud'

export const TEST_APPID = 'wx0123456789abcdef'
export const TEST_ENV = 'prod-4g1x2y3z'
export const TEST_TEMPLATES = { checkin_reminder: 'TplCheckin-0123456789', feedback_reply: 'TplFeedback-0123456789', ops_alert: 'TplAlert-0123456789ab' }

export interface ToolRun {
  status: number | null
  stdout: string
  stderr: string
}

export interface TestCloud {
  fake: FakeWeChatCloud
  /** The proxy URL both tools are pointed at (DEPLOY_PROXY). */
  proxy: string
  /** The code-upload key (PEM) whose public half the fake checks signatures with. */
  uploadKeyPem: string
  /** A temporary folder for configs and outputs. */
  dir: string
}

export async function startTestCloud(secretId: string, secretKey: string): Promise<TestCloud> {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const fake = new FakeWeChatCloud({ appid: TEST_APPID, envId: TEST_ENV, region: 'ap-shanghai', secretId, secretKey, uploadPublicKey: keys.publicKey })
  const proxy = await fake.start()
  return { fake, proxy, uploadKeyPem: keys.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), dir: mkdtempSync(path.join(os.tmpdir(), 'deploy-tools-')) }
}

/** The environment a tool runs with: through the fake's proxy, trusting its test CA. */
export function toolEnv(cloud: TestCloud, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, DEPLOY_PROXY: cloud.proxy, NODE_EXTRA_CA_CERTS: cloud.fake.caFile, ...extra }
}

export function runTool(script: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), script, ...args], { cwd: ROOT, env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('close', (status) => resolve({ status, stdout, stderr }))
  })
}

/** The run succeeded and the fake found nothing wrong in what it received. */
export function expectToolOk(run: ToolRun, fake: FakeWeChatCloud): void {
  if (run.status !== 0) throw new Error(`exited ${run.status}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`)
  expect(fake.violations).toEqual([])
}
