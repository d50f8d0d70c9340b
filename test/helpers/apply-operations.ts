/**
 * Runs given deploy operations with the deploy's own apply code and the real libraries, outside
 * any plan the repository makes: the recorded tests use it for operations the manifest does not
 * produce today (a storage rule), then print what the environment answers for it.
 *
 *   tsx test/helpers/apply-operations.ts <deploy.config.json> <operations.json>
 */
import { readFileSync } from 'node:fs'
import { listFunctions } from '../../tools/build'
import { applyPlan } from '../../tools/deploy/apply'
import { Clients } from '../../tools/deploy/clients'
import { loadSecrets, readDeployConfig } from '../../tools/deploy/config'
import { exitAfterOutput } from '../../tools/deploy/exit'
import type { Operation, Plan, Section } from '../../tools/deploy/plan'

async function main(): Promise<void> {
  const [configFile, opsFile] = process.argv.slice(2)
  const config = readDeployConfig(listFunctions(), configFile)
  const clients = new Clients(config, loadSecrets(config.appid, process.env, '/nonexistent'))
  const ops = JSON.parse(readFileSync(opsFile!, 'utf8')) as { section: Section; ops: Operation[] }
  const plan: Plan = { envId: config.envId, appid: config.appid, region: config.region, sections: [ops.section], remoteRead: true, problems: [], items: [{ section: ops.section, target: 'test', status: 'update', lines: [], ops: ops.ops }] }
  await applyPlan(plan, clients, (line) => console.log(line))
  console.log(`storage acl: ${JSON.stringify(await clients.requireManager().storage.getStorageAcl({ withRule: true }))}`)
}

main().then(
  () => exitAfterOutput(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err))
    exitAfterOutput(1)
  },
)
