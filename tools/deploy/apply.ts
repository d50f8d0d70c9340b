/**
 * Runs a plan's operations with the official tools. Functions deploy three at a time, the rest in
 * order. A failure stops the run with the step, the tool, the API's own code and message, and what
 * to do; running the deploy again continues from where the environment is (the plan is recomputed).
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { FUNCTIONS_DIR } from '../paths'
import type { Clients } from './clients'
import { codeDescription, type DesiredFunction } from './desired'
import { insertDocuments, updateDocument } from './documents'
import type { Operation, Plan, Tool } from './plan'

export interface ApplyLog {
  (line: string): void
}

/** What miniprogram-ci's createTimeTrigger answers when it worked (it returns a message instead of throwing). */
const CI_TRIGGER_OK = '创建定时触发器成功'

export class DeployStepError extends Error {
  constructor(
    readonly step: string,
    readonly tool: Tool,
    override readonly cause: unknown,
  ) {
    super(`${step} failed (${tool}): ${describeError(cause)}${hintFor(tool, cause)}`)
    this.name = 'DeployStepError'
  }
}

function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; requestId?: unknown }
  const code = typeof e?.code === 'string' || typeof e?.code === 'number' ? `[${String(e.code)}] ` : ''
  const request = typeof e?.requestId === 'string' && e.requestId ? ` (RequestId ${e.requestId})` : ''
  return `${code}${typeof e?.message === 'string' ? e.message : String(err)}${request}`
}

/** What to do about the failures people actually meet. */
export function hintFor(tool: Tool, err: unknown): string {
  const text = `${String((err as { code?: unknown })?.code ?? '')} ${String((err as { message?: unknown })?.message ?? err)}`
  if (tool === 'manager-node') {
    if (/AuthFailure/.test(text)) return '\n  fix: the Tencent Cloud API keys were refused: check TENCENTCLOUD_SECRETID/TENCENTCLOUD_SECRETKEY (访问管理 → API密钥管理) and that they belong to the account that owns the environment (docs/deploy.md#credentials).'
    if (/UnauthorizedOperation/.test(text)) return '\n  fix: the key is a sub-account without permission: grant it QcloudTCBFullAccess and QcloudSCFFullAccess in 访问管理 → 用户 (docs/deploy.md#credentials).'
    if (/ResourceNotFound\.(Env|Namespace)|not found/i.test(text)) return '\n  fix: check envId and region in deploy.config.json against 云开发控制台 → 概览.'
    if (/ResourceInUse|Updating|Creating/.test(text)) return '\n  fix: the function is still being updated; wait a minute and run the deploy again.'
  } else {
    if (/invalid ip|-10008/i.test(text)) return '\n  fix: this machine\'s IP is not on the code-upload allow-list: 公众平台 → 开发管理 → 开发设置 → 小程序代码上传 → IP白名单 (docs/deploy.md#credentials).'
    if (/signature|-10006|privateKey|private key/i.test(text)) return '\n  fix: the code-upload key does not match this AppID: download it again from 公众平台 → 开发管理 → 开发设置 → 小程序代码上传.'
  }
  return ''
}

/** Each function folder staged with only what is uploaded (no sources, no maps): the same bytes the plan hashed. */
class FunctionStage {
  private root?: string

  dir(fn: DesiredFunction): string {
    const dir = path.join(this.rootDir, fn.name)
    mkdirSync(dir, { recursive: true })
    for (const file of fn.files) copyFileSync(path.join(FUNCTIONS_DIR, fn.name, file), path.join(dir, file))
    return dir
  }

  /** The folder holding the staged functions (miniprogram-ci's project path for cloud calls). */
  get rootDir(): string {
    this.root ??= mkdtempSync(path.join(os.tmpdir(), 'deploy-functions-'))
    return this.root
  }

  dispose(): void {
    if (this.root) rmSync(this.root, { recursive: true, force: true })
  }
}

async function step<T>(label: string, tool: Tool, log: ApplyLog, run: () => Promise<T>): Promise<T> {
  try {
    const result = await run()
    log(`  ✓ ${label} (${tool})`)
    return result
  } catch (err) {
    if (err instanceof DeployStepError) throw err
    throw new DeployStepError(label, tool, err)
  }
}

async function runOperation(op: Operation, clients: Clients, stage: FunctionStage, log: ApplyLog): Promise<void> {
  const manager = () => clients.requireManager()
  switch (op.kind) {
    case 'createFunction': {
      const fn = op.fn
      const dir = stage.dir(fn)
      await step(`${fn.name}: create (CreateFunction ${fn.runtime}, ${fn.memorySize} MB, ${fn.timeout} s, ${Object.keys(fn.env).length} env, ${fn.triggers.length} triggers)`, 'manager-node', log, () =>
        manager().functions.createFunction({
          func: {
            name: fn.name,
            runtime: fn.runtime,
            memorySize: fn.memorySize,
            timeout: fn.timeout,
            envVariables: fn.env,
            description: codeDescription(fn.codeSha256),
            installDependency: true,
            handler: 'index.main',
            triggers: fn.triggers.map((t) => ({ name: t.name, type: 'timer', config: t.config })),
          },
          functionPath: dir,
          deployMode: 'zip',
        }),
      )
      return
    }
    case 'uploadCode': {
      const fn = op.fn
      const dir = stage.dir(fn)
      if (op.via === 'miniprogram-ci') {
        const ci = clients.requireCi()
        const project = clients.ciProject(stage.rootDir)
        await step(`${fn.name}: upload code (cloud.uploadFunction, dependencies installed in the cloud)`, 'miniprogram-ci', log, () =>
          ci.cloud.uploadFunction({ project, env: clients.config.envId, name: fn.name, path: dir, remoteNpmInstall: true }),
        )
      } else {
        await step(`${fn.name}: upload code (UpdateFunctionCode)`, 'manager-node', log, async () => {
          await manager().functions.updateFunctionCode({ func: { name: fn.name, runtime: fn.runtime, installDependency: true, handler: 'index.main' }, functionPath: dir, deployMode: 'zip' })
          await manager().functions.waitFunctionActive(fn.name)
        })
      }
      return
    }
    case 'configureFunction': {
      const fn = op.fn
      await step(`${fn.name}: configure (UpdateFunctionConfiguration: ${fn.memorySize} MB, ${fn.timeout} s, ${Object.keys(op.env).length} env)`, 'manager-node', log, async () => {
        await manager().functions.updateFunctionConfig({ name: fn.name, memorySize: fn.memorySize, timeout: fn.timeout, envVariables: op.env, description: op.description })
        await manager().functions.waitFunctionActive(fn.name)
      })
      return
    }
    case 'deleteTrigger':
      await step(`${op.fn}: delete trigger ${op.trigger} (DeleteTrigger)`, 'manager-node', log, () => manager().functions.deleteFunctionTrigger(op.fn, op.trigger))
      return
    case 'createTriggers': {
      const triggers = op.triggers.map((t) => ({ name: t.name, type: 'timer', config: t.config }))
      const label = `${op.fn}: create trigger${triggers.length > 1 ? 's' : ''} ${triggers.map((t) => t.name).join(', ')} (BatchCreateTrigger)`
      if (op.via === 'miniprogram-ci') {
        const ci = clients.requireCi()
        const answer = await step(label, 'miniprogram-ci', () => {}, () =>
          ci.cloud.createTimeTrigger({ project: clients.ciProject(stage.rootDir), envId: clients.config.envId, functionName: op.fn, triggersConfig: triggers }),
        )
        if (answer === CI_TRIGGER_OK) {
          log(`  ✓ ${label} (miniprogram-ci)`)
          return
        }
        // createTimeTrigger swallows the API's error: ask again with manager-node, which reports it.
        log(`  ! ${op.fn}: miniprogram-ci answered "${String(answer)}"; creating the triggers with manager-node instead`)
      }
      await step(label, 'manager-node', log, () => manager().functions.createFunctionTriggers(op.fn, triggers))
      return
    }
    case 'createCollection':
      await step(`${op.collection}: create collection (CreateTable)`, 'manager-node', log, () => manager().database.createCollection(op.collection))
      return
    case 'createIndexes':
      await step(`${op.collection}: create index${op.indexes.length > 1 ? 'es' : ''} ${op.indexes.map((i) => i.name).join(', ')} (UpdateTable)`, 'manager-node', log, () =>
        manager().database.updateCollection(op.collection, {
          CreateIndexes: op.indexes.map((index) => ({
            IndexName: index.name,
            MgoKeySchema: {
              MgoIndexKeys: Object.entries(index.keys).map(([name, direction]) => ({ Name: name, Direction: String(direction) })),
              MgoIsUnique: Boolean(index.unique),
            },
          })),
        }),
      )
      return
    case 'setRule':
      await step(`${op.collection}: security rule (ModifySafeRule)`, 'manager-node', log, () =>
        manager().commonService().call({ Action: 'ModifySafeRule', Param: { EnvId: clients.config.envId, CollectionName: op.collection, AclTag: 'CUSTOM', Rule: JSON.stringify(op.rule) } }),
      )
      return
    case 'setStorageRule':
      await step('storage rule (ModifyStorageSafeRule)', 'manager-node', log, () => manager().storage.setStorageAcl('CUSTOM', op.rule as { read: boolean | string; write: boolean | string }))
      return
    case 'updateDocument':
      await step(`${op.collection}/${op.id}: ${Object.keys(op.update).join(', ')} (RunCommands update)`, 'manager-node', log, () => updateDocument(manager(), op.collection, op.id, op.update))
      return
    case 'insertDocuments':
      await step(`${op.collection}: insert ${op.documents.length} demo documents (RunCommands insert)`, 'manager-node', log, () => insertDocuments(manager(), op.collection, op.documents))
      return
  }
}

/** Runs every operation of the plan; resolves with the number run. */
export async function applyPlan(plan: Plan, clients: Clients, log: ApplyLog): Promise<number> {
  const stage = new FunctionStage()
  let count = 0
  try {
    for (const section of plan.sections) {
      const items = plan.items.filter((i) => i.section === section && i.ops.length)
      if (!items.length) continue
      log(`${section}:`)
      if (section === 'functions') {
        // Each function's steps in order; three functions at a time (each waits for its function to be Active).
        const queue = [...items]
        const worker = async () => {
          for (let item = queue.shift(); item; item = queue.shift()) {
            for (const op of item.ops) {
              await runOperation(op, clients, stage, log)
              count++
            }
          }
        }
        await Promise.all([worker(), worker(), worker()])
      } else {
        for (const item of items) {
          for (const op of item.ops) {
            await runOperation(op, clients, stage, log)
            count++
          }
        }
      }
    }
  } finally {
    stage.dispose()
  }
  return count
}
