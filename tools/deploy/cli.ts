/**
 * `npm run deploy`: from the repository to a WeChat Cloud environment, idempotently — functions
 * bundled from their sources (code, runtime, timeout, memory, environment variables, open-API
 * permissions, timer triggers), collections, indexes and security rules from the manifest, the
 * storage rule, the `app_config` documents; demo experiments stopped; the demo guides only with
 * --seed-demo. See docs/deploy.md.
 *
 *   npm run deploy -- --dry-run                       the full plan: what exists, what changes
 *   npm run deploy                                    apply it
 *   npm run deploy -- --only functions,config         some sections (functions|database|storage|config)
 *   npm run deploy -- --seed-demo                     also load the demo guides into empty collections
 *   npm run deploy -- --run-demo-experiments          leave the demo experiments running
 *   npm run deploy -- --force-code                    upload every function's code, even when current
 *   npm run deploy -- --config deploy.staging.json    another environment's configuration
 *   npm run deploy -- --secrets .env.staging          another secrets file (default .env.deploy)
 */
import path from 'node:path'
import { parseArgs } from 'node:util'
import { buildAll, listFunctions } from '../build'
import { applyPlan, DeployStepError } from './apply'
import { exitAfterOutput } from './exit'
import { Clients } from './clients'
import { DeployConfigError, loadSecrets, readDeployConfig } from './config'
import { desiredState } from './desired'
import { computePlan, formatPlan, operations, type Plan, SECTIONS, type Section } from './plan'
import { errorsOf, formatProblems, preflightDocuments, preflightLocal, readProjectAppid } from './preflight'
import { readRemoteState, type RemoteState } from './remote'

const HELP = `npm run deploy -- [--dry-run] [--only ${SECTIONS.join('|')}[,...]] [--seed-demo] [--run-demo-experiments] [--force-code] [--config <deploy.config.json>] [--secrets <.env.deploy>]`

export function parseSections(only: string | undefined): Section[] {
  if (!only) return [...SECTIONS]
  const wanted = only.split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = wanted.filter((s) => !(SECTIONS as readonly string[]).includes(s))
  if (unknown.length || !wanted.length) throw new DeployConfigError(`--only takes ${SECTIONS.join(', ')} (comma separated); got "${only}".`)
  return SECTIONS.filter((s) => wanted.includes(s))
}

/** Checklist printed after a deploy: what only the console can confirm. */
const AFTER_DEPLOY = `
Next, in 云开发控制台 (docs/deploy.md#after-the-deploy):
  - 云函数: every function Active, with its timeout, memory, environment variables and triggers.
  - Open-API permission changes can take up to 10 minutes to apply: a call answering -604101 in that time is expected.
  - 数据库: the collections, their indexes (3 unique) and 自定义安全规则 {"read":false,"write":false}.
  - Then \`npm run release\` uploads the mini-program (or \`npm run preview\` for a QR code).`

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'dry-run': { type: 'boolean', default: false },
      only: { type: 'string' },
      'seed-demo': { type: 'boolean', default: false },
      'run-demo-experiments': { type: 'boolean', default: false },
      'force-code': { type: 'boolean', default: false },
      config: { type: 'string' },
      secrets: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const dryRun = values['dry-run']
  const sections = parseSections(values.only)
  const config = readDeployConfig(listFunctions(), values.config ? path.resolve(values.config) : undefined)
  const secrets = loadSecrets(config.appid, process.env, values.secrets ? path.resolve(values.secrets) : undefined)
  const clients = new Clients(config, secrets)
  // Deploy what the sources say: bundle the functions first (only changed bundles are rewritten).
  const built = await buildAll()
  console.log(`Bundled ${built.functions.length} functions in ${built.ms} ms.`)
  const desired = desiredState(config, secrets, { seedDemo: values['seed-demo'], runDemoExperiments: values['run-demo-experiments'] })

  const checks = { command: 'deploy' as const, config, secrets, sections, dryRun, projectAppid: readProjectAppid() }
  const local = preflightLocal(checks)
  if (!dryRun && errorsOf(local).length) {
    // Nothing is sent anywhere with a placeholder configuration or missing keys.
    console.error(`Nothing was changed: fix these first, then run \`npm run deploy\` again.\n${formatProblems(local)}`)
    return 1
  }
  // Whether categories/guides hold documents: for --seed-demo, and to say when the home page would be empty.
  const readContent = values['seed-demo'] || sections.includes('database')
  let remote: RemoteState | null = null
  if (clients.hasTencentCloud && !errorsOf(local).length) {
    console.log(`Reading environment ${config.envId} (${config.region}) with @cloudbase/manager-node...`)
    remote = await readRemoteState(desired, clients, new Set(sections), readContent).catch((err: unknown) => {
      throw new DeployStepError(`Reading environment ${config.envId}`, 'manager-node', err)
    })
  }
  const planOptions = { sections, codeVia: clients.hasUploadKey ? ('miniprogram-ci' as const) : ('manager-node' as const), forceCode: values['force-code'] }
  const plan = computePlan(desired, remote, planOptions)
  plan.problems.unshift(...local, ...preflightDocuments({ ...checks, remote: remote?.documents ?? null }))
  console.log(formatPlan(plan))
  const codeTool = secrets.uploadKey
    ? `miniprogram-ci uploads function code and creates timer triggers (upload key from ${secrets.uploadKey.source})`
    : 'manager-node uploads function code too (no code-upload key)'
  console.log(`\nTools: ${codeTool}; manager-node does the rest${clients.hasTencentCloud ? '' : ' (needs TENCENTCLOUD_SECRETID/SECRETKEY)'}.`)

  const errors = errorsOf(plan.problems)
  if (dryRun) {
    console.log(`\nDry run: nothing was changed.${errors.length ? ` A real deploy would stop on the ${errors.length} problem${errors.length === 1 ? '' : 's'} above.` : ''}`)
    return 0
  }
  if (errors.length) {
    console.error(`\nNothing was changed: fix the ${errors.length} problem${errors.length === 1 ? '' : 's'} above, then run \`npm run deploy\` again.`)
    return 1
  }
  const ops = operations(plan)
  if (!ops.length) {
    console.log('\nThe environment already matches the repository: nothing to do.')
    return 0
  }
  console.log(`\nDeploying ${ops.length} changes...`)
  const done = await applyPlan(plan, clients, (line) => console.log(line))
  console.log(`\nDone: ${done} changes applied.`)
  await verify(plan, desired, clients, sections, readContent, planOptions)
  console.log(AFTER_DEPLOY)
  return 0
}

/** Reads the environment again and plans once more: after a deploy, nothing should be left to do. */
async function verify(previous: Plan, desired: ReturnType<typeof desiredState>, clients: Clients, sections: Section[], readContent: boolean, options: Parameters<typeof computePlan>[2]): Promise<void> {
  const again = computePlan(desired, await readRemoteState(desired, clients, new Set(sections), readContent), { ...options, forceCode: false })
  const left = again.items.filter((i) => i.ops.length)
  if (!left.length) {
    console.log(`Verified: the environment now matches the repository (${previous.items.length} items, 0 changes left).`)
    return
  }
  console.warn(`The environment still differs in ${left.length} item${left.length === 1 ? '' : 's'} after the deploy (run it again, or see docs/deploy.md#troubleshooting):`)
  for (const item of left) console.warn(`  ${item.target}: ${item.lines.join('; ')}`)
}

if (require.main === module) {
  main().then(exitAfterOutput, (err: unknown) => {
    if (err instanceof DeployConfigError || err instanceof DeployStepError) console.error(`\n${err.message}`)
    else console.error(err instanceof Error ? (err.stack ?? err.message) : String(err))
    console.error('\nThe deploy stopped. Running it again continues from where the environment is.')
    exitAfterOutput(1)
  })
}
