/**
 * A real local cloud for page tests, as its own process (`npm start` with a temporary data
 * directory and the demo data): the pages under test reach it through wx.request over HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'

const ROOT = path.resolve(__dirname, '../../..')

export interface CloudProcess {
  url: string
  stop(): Promise<void>
}

export async function startCloudProcess(): Promise<CloudProcess> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mp-test-cloud-'))
  const proc: ChildProcess = spawn(
    process.execPath,
    [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'tools/local-cloud/cli.ts', '--port', '0', '--data', dataDir, '--json', '--no-watch', '--no-timers', '--no-template-ids', '--workers', '2'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const errors: string[] = []
  proc.stderr?.on('data', (chunk: Buffer) => errors.push(chunk.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return
      const message = JSON.parse(line) as { event?: string; url?: string }
      if (message.event === 'ready' && message.url) resolve(message.url)
    })
    proc.once('exit', (code) => reject(new Error(`local cloud exited with ${String(code)}: ${errors.join('')}`)))
  })
  return {
    url,
    async stop() {
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve())
        proc.kill('SIGTERM')
      })
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
