/**
 * `npm start`: builds the cloud functions, starts the local cloud with the demo data and prints
 * where it listens and how to point an unmodified wx-server-sdk at it.
 *
 *   npm start -- --port 8090 --data .cloud --reset --no-seed --no-timers --workers 4 --json
 *   npm start -- --import DIR --export-on-exit DIR
 */
import { rmSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { buildAll } from '../build'
import { prepareMiniprogram } from '../miniprogram/prepare'
import { ROOT } from '../paths'
import { DEFAULT_APPID, DEFAULT_ENV, DEFAULT_PORT, LocalCloud } from './cloud'
import { checkExportTarget, exportCloud, readExportManifest } from './export'
import { checkWordsFile, portInUse, portInUseMessage } from './preflight'
import { seedDemo, seedTemplateIds } from './seed'

const HELP = `Usage: npm start -- [options]

  --port <n>       port on 127.0.0.1 (default ${DEFAULT_PORT}, or the LOCAL_CLOUD_PORT environment variable; 0 = any free port)
  --host <addr>    listen address (default 127.0.0.1). Off loopback (0.0.0.0 to test on a phone) every
                   caller from another machine needs the access token it prints (x-local-cloud-token)
  --data <dir>     data directory: database, storage (default .cloud)
  --env <id>       environment id (default ${DEFAULT_ENV})
  --appid <id>     AppID reported by getWXContext (default ${DEFAULT_APPID})
  --workers <n>    worker processes per function (default 4)
  --words <file>   msgSecCheck word list (default tools/local-cloud/msgsec-words.txt)
  --reset          delete the data directory first
  --no-seed        do not load the demo guides into an empty database
  --no-template-ids  do not write placeholder subscription template ids (app_config/templates)
  --no-timers      do not run timer triggers
  --no-watch       do not rebuild functions on change
  --import <dir>   load an export (database + storage) before serving; replaces the collections it holds
  --export-on-exit <dir>  export the database and storage to <dir> when stopped (Ctrl-C)
  --json           print one JSON line when ready (for scripts and tests)
  --timeout-scale <n>  multiply every function's timeout (default 1; tests on a loaded machine)

The console (data, config, storage, messages, timers) is at the printed URL, e.g. http://127.0.0.1:${DEFAULT_PORT}/
`

/** Options as parseArgs reads them; an unknown one gets a hint instead of a stack trace. */
function readOptions() {
  try {
    return parseOptions()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      throw new Error(`${(err as Error).message}\nSee the options with: npm start -- --help`)
    }
    throw err
  }
}

function parseOptions() {
  return parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      data: { type: 'string' },
      env: { type: 'string', default: DEFAULT_ENV },
      appid: { type: 'string', default: DEFAULT_APPID },
      workers: { type: 'string', default: '4' },
      words: { type: 'string' },
      reset: { type: 'boolean', default: false },
      'no-seed': { type: 'boolean', default: false },
      'no-template-ids': { type: 'boolean', default: false },
      'no-timers': { type: 'boolean', default: false },
      'no-watch': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      import: { type: 'string' },
      'export-on-exit': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
      'timeout-scale': { type: 'string', default: '1' },
    },
  })
}

async function main(): Promise<void> {
  const { values } = readOptions()
  if (values.help) {
    console.log(HELP)
    return
  }
  const port = Number(values.port ?? process.env.LOCAL_CLOUD_PORT ?? DEFAULT_PORT)
  const workers = Number(values.workers)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, got ${values.port}`)
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new Error(`--workers must be 1-64, got ${values.workers}`)
  const timeoutScale = Number(values['timeout-scale'])
  if (!(timeoutScale >= 1 && timeoutScale <= 100)) throw new Error(`--timeout-scale must be 1-100, got ${values['timeout-scale']}`)
  const dataDir = path.resolve(values.data ?? path.join(ROOT, '.cloud'))
  checkWordsFile(values.words)
  // Before building: a second `npm start` on a busy port stops here, without touching the bundles.
  if (await portInUse(values.host, port)) throw new Error(await portInUseMessage(values.host, port))
  if (values.reset) rmSync(dataDir, { recursive: true, force: true })
  const importDir = values.import ? path.resolve(values.import) : undefined
  if (importDir) readExportManifest(importDir)
  // Checked now, not at Ctrl-C: a wrong folder is said while there is still time to fix it.
  const exportDir = values['export-on-exit'] ? checkExportTarget(values['export-on-exit']) : undefined

  const build = await buildAll()
  const miniprogram = await prepareMiniprogram()
  const cloud = await LocalCloud.start({
    port,
    host: values.host,
    dataDir,
    env: values.env,
    appid: values.appid,
    maxWorkers: workers,
    wordsFile: values.words,
    timers: !values['no-timers'],
    watch: !values['no-watch'],
    importDir,
    timeoutScale,
    log: values.json ? (line) => process.stderr.write(`${line}\n`) : undefined,
  })
  const seeded = values['no-seed'] ? { categories: 0, guides: 0 } : seedDemo(cloud.store)
  const templateIds = values['no-seed'] || values['no-template-ids'] ? 0 : seedTemplateIds(cloud.store)
  const env = cloud.sdkEnv()

  const token = cloud.accessToken
  if (token !== null) {
    // Loud, and on stderr too, so it is seen whatever else scrolls by.
    const bar = '!'.repeat(78)
    process.stderr.write(
      [
        '',
        bar,
        `!! The local cloud listens on ${values.host}: every device on your network can reach it.`,
        '!! It plays WeChat: whoever reaches it can act as any user, admins included, read every',
        '!! openid and the feedback inbox, fire timers and write storage. Callers from other',
        `!! machines must send the access token (header x-local-cloud-token): ${token}`,
        `!! LAN address: ${cloud.url}`,
        "!! In miniprogram/config.ts set localCloudUrl to that address and localCloudToken to the token.",
        '!! Use a network you trust, and stop it when you are done.',
        bar,
        '',
      ].join('\n') + '\n',
    )
  }

  if (values.json) {
    console.log(JSON.stringify({ event: 'ready', url: cloud.url, console: `${cloud.url}/`, env: cloud.env, dataDir, functions: build.functions, seeded, sdkEnv: env, ...(token !== null ? { accessToken: token } : {}) }))
  } else {
    const fns = cloud.functions()
    const timers = !values['no-timers']
    const lines = [
      '',
      `Local cloud listening on ${cloud.url}   (env "${cloud.env}", data in ${path.relative(process.cwd(), dataDir) || '.'})`,
      ...(token !== null ? [`  LAN address ${cloud.url}   access token ${token}   (header x-local-cloud-token; see the warning above)`] : []),
      '',
      `  console    ${cloud.url}/   (data, config, storage, messages, timers, export)`,
      ...(importDir ? [`  imported   ${path.relative(process.cwd(), importDir) || '.'}`] : []),
      `  gateway    POST ${cloud.url}/functions/<name>   body: {"action": "...", "data": {...}}   caller: header x-wx-openid`,
      `  functions  ${fns.map((f) => `${f.name} (${f.timeoutMs / 1000}s${timers && f.triggers.length ? `, timers: ${f.triggers.map((t) => t.name).join(',')}` : ''})`).join(', ')}`,
      ...(timers ? [] : [`  timers     off (--no-timers): run one from the console's 定时触发器 page, or POST ${cloud.url}/_/triggers/<function>/<trigger>`]),
      `             built in ${build.ms} ms, up to ${workers} workers each, rebuilt on change`,
      `  miniprogram ${miniprogram}`,
      `  seed       ${seeded.guides + seeded.categories > 0 ? `loaded ${seeded.guides} guides and ${seeded.categories} categories` : 'database already has data (or --no-seed)'}`,
      ...(templateIds > 0 ? [`             placeholder ids for ${templateIds} subscription templates in app_config/templates (messages are recorded, not delivered)`] : []),
      `  inspect    ${cloud.url}/_/stats   ${cloud.url}/_/invocations`,
      '',
      'Point an unmodified wx-server-sdk at it with these environment variables:',
      '',
      ...Object.entries(env).map(([k, v]) => `  export ${k}='${v}'`),
      `  export WX_CONTEXT_KEYS=WX_OPENID,WX_APPID WX_OPENID=<openid> WX_APPID=${cloud.appid}   # optional: the caller getWXContext() reports`,
      '',
      'Try it:',
      `  curl -s -X POST ${cloud.url}/functions/content -H 'x-wx-openid: dev-user' -d '{"action":"list","data":{"limit":3}}'`,
      '',
    ]
    console.log(lines.join('\n'))
  }

  const stop = async () => {
    // stderr: with --json, stdout carries only the ready line.
    process.stderr.write('\nStopping the local cloud…\n')
    if (exportDir) {
      const done = exportCloud(cloud.store, cloud.storage.root, exportDir)
      process.stderr.write(`Exported ${done.collections} collections (${done.documents} documents) and ${done.files} files to ${path.relative(process.cwd(), done.dir) || '.'}\n`)
    }
    await cloud.close()
    process.stderr.write(`Stopped; the data is in ${path.relative(process.cwd(), dataDir) || '.'}\n`)
    process.exit(0)
  }
  process.once('SIGINT', () => void stop())
  process.once('SIGTERM', () => void stop())
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
