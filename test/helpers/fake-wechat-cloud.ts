/**
 * A recording stand-in for the hosts the deploy tools talk to — Tencent Cloud API 3.0
 * (scf/tcb/flexdb.tencentcloudapi.com) and WeChat's servicewechat.com — reached the way a corporate
 * network reaches them: through an HTTPS proxy. The tools run unmodified, pointed at it only by
 * configuration: manager-node's `proxy`, miniprogram-ci's `ci.proxy()` (both from DEPLOY_PROXY),
 * and NODE_EXTRA_CA_CERTS for the certificate of the test CA made here with openssl.
 *
 * It records every request (host, action, parameters, body), checks every TC3-HMAC-SHA256
 * signature with the test's secret key and every miniprogram-ci signature with the upload key's
 * public half, and answers with the fields each library reads, keeping state (functions, triggers,
 * collections, indexes, rules, documents) so a second deploy sees what the first one made. What it
 * cannot prove is listed in docs/deploy.md: only a real environment can.
 */
import { execFileSync } from 'node:child_process'
import { constants, createHash, createHmac, type KeyObject, publicDecrypt } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import { EJSON } from 'bson'

export interface RecordedCall {
  host: string
  path: string
  /** tc3: signed with the API keys (manager-node); wechat: servicewechat.com; agent: a cloud API call relayed by servicewechat.com (miniprogram-ci); wechat-signed: a cloud API call signed by servicewechat.com. */
  via: 'tc3' | 'wechat' | 'agent' | 'wechat-signed'
  service?: string
  action?: string
  params: Record<string, unknown>
  query: Record<string, string>
  /** The request body as received (gunzipped for uploads). */
  body: Buffer
}

export interface FakeFunction {
  Runtime: string
  Timeout: number
  MemorySize: number
  Handler: string
  Description: string
  InstallDependency: string
  env: Record<string, string>
  triggers: { name: string; cron: string }[]
  /** The files of the last code upload. */
  files: Map<string, Buffer>
  /** Status answered by the next GetFunction calls (Creating/Updating once, then Active). */
  pending: string[]
}

export interface FakeTable {
  indexes: { Name: string; Keys: { Name: string; Direction: string }[]; Unique: boolean }[]
  rule: { AclTag: string; Rule?: string }
  docs: Map<string, Record<string, unknown>>
}

export interface FakeCloudOptions {
  appid: string
  envId: string
  region: string
  secretId: string
  secretKey: string
  /** The public half of the code-upload key: every miniprogram-ci signature is checked with it. */
  uploadPublicKey: KeyObject
}

class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest()

/** Files of a zip archive (stored or deflated entries), read from its central directory. */
export function readZip(zip: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>()
  let eocd = zip.length - 22
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--
  if (eocd < 0) throw new Error('not a zip archive')
  let offset = zip.readUInt32LE(eocd + 16)
  const count = zip.readUInt16LE(eocd + 10)
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(offset + 10)
    const compressed = zip.readUInt32LE(offset + 20)
    const nameLength = zip.readUInt16LE(offset + 28)
    const extra = zip.readUInt16LE(offset + 30)
    const comment = zip.readUInt16LE(offset + 32)
    const local = zip.readUInt32LE(offset + 42)
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength)
    const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28)
    const data = zip.subarray(dataStart, dataStart + compressed)
    if (!name.endsWith('/')) files.set(name, method === 8 ? zlib.inflateRawSync(data) : Buffer.from(data))
    offset += 46 + nameLength + extra + comment
  }
  return files
}

/** miniprogram-ci's upload package (its `pack`: a header, a file table, the file data). */
export function unpackCiPackage(buffer: Buffer): Map<string, Buffer> {
  if (buffer[0] !== 0xbe || buffer[13] !== 0xed) throw new Error('not a miniprogram-ci package')
  const infoLength = buffer.readInt32BE(5)
  const files = new Map<string, Buffer>()
  let at = 14
  const count = buffer.readInt32BE(at)
  at += 4
  for (let i = 0; i < count; i++) {
    const nameLength = buffer.readInt32BE(at)
    const name = buffer.toString('utf8', at + 4, at + 4 + nameLength)
    const offset = buffer.readInt32BE(at + 4 + nameLength)
    const size = buffer.readInt32BE(at + 8 + nameLength)
    files.set(name, buffer.subarray(offset, offset + size))
    at += 12 + nameLength
  }
  if (at !== 14 + infoLength) throw new Error('package file table length mismatch')
  return files
}

function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=deploy-test-ca'])
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=tencentcloudapi.com'])
  const ext = path.join(dir, 'leaf.ext')
  writeFileSync(ext, 'subjectAltName=DNS:servicewechat.com,DNS:*.tencentcloudapi.com,DNS:tencentcloudapi.com\n')
  run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2', '-extfile', ext])
  return { ca: path.join(dir, 'ca.pem'), key: readFileSync(path.join(dir, 'leaf.key'), 'utf8'), cert: readFileSync(path.join(dir, 'leaf.pem'), 'utf8') }
}

export class FakeWeChatCloud {
  readonly calls: RecordedCall[] = []
  readonly functions = new Map<string, FakeFunction>()
  readonly tables = new Map<string, FakeTable>()
  storageRule: { AclTag: string; Rule?: string } = { AclTag: 'PRIVATE' }
  /** What servicewechat.com received for uploads and previews. */
  readonly uploads: { kind: 'upload' | 'preview'; query: Record<string, string>; files: Map<string, Buffer> }[] = []
  /** A QR code image (base64) answered to previews; the test sets it. */
  previewImage = ''
  /** Source maps answered to get_dev_sourcemap. */
  sourceMaps: { fullpath: string; sourcemap: string }[] = [{ fullpath: '/__APP__/app-service.map.map', sourcemap: '{"version":3,"sources":["app.ts"],"mappings":""}' }]
  /** Problems found in what the tools sent (bad signatures, unknown requests): a test asserts it is empty. */
  readonly violations: string[] = []

  private dir = mkdtempSync(path.join(os.tmpdir(), 'fake-wechat-cloud-'))
  private proxy?: http.Server
  private randoms = new Set<string>()
  private wechatSigned = new Map<string, string>()
  private sequence = 0
  caFile = ''

  constructor(readonly options: FakeCloudOptions) {}

  async start(): Promise<string> {
    const certs = makeCertificates(this.dir)
    this.caFile = certs.ca
    const tls = https.createServer({ key: certs.key, cert: certs.cert }, (req, res) => void this.handle(req, res))
    this.proxy = http.createServer((_req, res) => {
      res.statusCode = 405
      res.end('CONNECT only')
    })
    this.proxy.on('connect', (req: http.IncomingMessage, socket: Socket) => {
      const [host] = (req.url ?? '').split(':')
      if (host !== 'servicewechat.com' && !host?.endsWith('.tencentcloudapi.com')) {
        this.violations.push(`CONNECT to an unexpected host ${req.url}`)
        socket.end('HTTP/1.1 403 Forbidden\r\n\r\n')
        return
      }
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      tls.emit('connection', socket)
    })
    await new Promise<void>((resolve) => this.proxy!.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.proxy.address() as AddressInfo).port}`
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (!this.proxy) return resolve()
      this.proxy.close(() => resolve())
      this.proxy.closeAllConnections()
    })
    rmSync(this.dir, { recursive: true, force: true })
  }

  /** Calls to Tencent Cloud actions, in order, as `service.Action` (relayed ones included). */
  actions(filter?: (call: RecordedCall) => boolean): string[] {
    return this.calls.filter((c) => c.action && (!filter || filter(c))).map((c) => `${c.service}.${c.action}`)
  }

  /** Actions that change something (reads left out). */
  writes(calls: readonly RecordedCall[] = this.calls): RecordedCall[] {
    return calls.filter((c) => c.action && !/^(Describe|Get|List)/.test(c.action) && !(c.action === 'RunCommands' && (c.params.MgoCommands as { CommandType: string }[]).every((m) => m.CommandType === 'QUERY')))
  }

  // ---- HTTP -------------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks)
    const host = (req.headers.host ?? '').split(':')[0]!
    const url = new URL(req.url ?? '/', `https://${host}`)
    const query = Object.fromEntries(url.searchParams)
    try {
      if (host === 'servicewechat.com') {
        const body = url.pathname === '/wxa/ci/upload' || url.pathname === '/wxa/ci/testSourceURL' ? zlib.gunzipSync(raw) : raw
        const answer = this.wechat(url.pathname, query, body, req)
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify(answer))
        return
      }
      const service = host.split('.')[0]!
      const action = String(req.headers['x-tc-action'] ?? '')
      const params = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>
      const auth = String(req.headers.authorization ?? '')
      const signedByWeChat = this.wechatSigned.get(auth)
      let via: RecordedCall['via'] = 'tc3'
      if (signedByWeChat !== undefined) {
        via = 'wechat-signed'
        if (signedByWeChat !== sha256(raw)) this.violations.push(`${action}: the body is not the one servicewechat.com signed`)
      } else {
        this.checkTc3(req, service, raw)
      }
      this.calls.push({ host, path: url.pathname, via, service, action, params, query, body: raw })
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(this.respond(service, action, params)))
    } catch (err) {
      this.violations.push(`${host}${url.pathname}: ${(err as Error).stack ?? String(err)}`)
      res.statusCode = 500
      res.end(String(err))
    }
  }

  private respond(service: string, action: string, params: Record<string, unknown>): { Response: Record<string, unknown> } {
    const RequestId = `req-${++this.sequence}`
    try {
      return { Response: { ...this.api(service, action, params), RequestId } }
    } catch (err) {
      if (err instanceof ApiError) return { Response: { Error: { Code: err.code, Message: err.message }, RequestId } }
      throw err
    }
  }

  /** TC3-HMAC-SHA256, recomputed as https://cloud.tencent.com/document/api/213/30654 describes. */
  private checkTc3(req: http.IncomingMessage, service: string, body: Buffer): void {
    const auth = String(req.headers.authorization ?? '')
    const match = /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([a-z]+)\/tc3_request, SignedHeaders=([a-z;-]+), Signature=([0-9a-f]{64})$/.exec(auth)
    const action = String(req.headers['x-tc-action'])
    if (!match) return void this.violations.push(`${action}: no TC3 signature (${auth.slice(0, 40)})`)
    const [, secretId, date, signedService, signedHeaders, signature] = match
    if (secretId !== this.options.secretId) this.violations.push(`${action}: signed with SecretId ${secretId}`)
    if (signedService !== service) this.violations.push(`${action}: signed for service ${signedService}, sent to ${service}`)
    const timestamp = String(req.headers['x-tc-timestamp'])
    const headerValue = (name: string) => (name === 'host' ? String(req.headers.host).split(':')[0] : String(req.headers[name] ?? '').trim().toLowerCase())
    const canonicalHeaders = signedHeaders!
      .split(';')
      .map((h) => `${h}:${headerValue(h)}\n`)
      .join('')
    const canonical = `POST\n/\n\n${canonicalHeaders}\n${signedHeaders}\n${sha256(body)}`
    const toSign = `TC3-HMAC-SHA256\n${timestamp}\n${date}/${service}/tc3_request\n${sha256(canonical)}`
    const key = hmac(hmac(hmac(`TC3${this.options.secretKey}`, date!), service), 'tc3_request')
    if (createHmac('sha256', key).update(toSign).digest('hex') !== signature) this.violations.push(`${action}: TC3 signature does not verify`)
    if (req.headers['x-tc-region'] !== this.options.region) this.violations.push(`${action}: region ${String(req.headers['x-tc-region'])}`)
  }

  /** A miniprogram-ci signature: RSA (PKCS#1) over {appid, rand_str}, rand_str issued by getrandstr. */
  private checkCiSignature(what: string, signature: unknown): void {
    try {
      const decoded = JSON.parse(publicDecrypt({ key: this.options.uploadPublicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(String(signature), 'base64')).toString('utf8')) as { appid?: string; rand_str?: string }
      if (decoded.appid !== this.options.appid) this.violations.push(`${what}: signed for AppID ${decoded.appid}`)
      if (!decoded.rand_str || !this.randoms.has(decoded.rand_str)) this.violations.push(`${what}: signed over a random string servicewechat.com did not issue`)
    } catch (err) {
      this.violations.push(`${what}: the signature does not verify with the upload key (${(err as Error).message})`)
    }
  }

  // ---- servicewechat.com ---------------------------------------------------------------------------

  private wechat(pathname: string, query: Record<string, string>, body: Buffer, req: http.IncomingMessage): unknown {
    const call: RecordedCall = { host: 'servicewechat.com', path: pathname, via: 'wechat', params: {}, query, body }
    const json = () => JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>
    switch (pathname) {
      case '/wxa/ci/getrandstr': {
        call.params = json()
        this.calls.push(call)
        const randomString = `rand-${++this.sequence}`
        this.randoms.add(randomString)
        return { errCode: 0, data: { randomString } }
      }
      case '/wxa/ci/getattr': {
        call.params = json()
        this.calls.push(call)
        this.checkCiSignature('getattr', call.params.signature)
        return { errCode: 0, data: ciDefaultAttr() }
      }
      case '/wxa/ci/getwhiteextlist':
        this.calls.push(call)
        // Which file extensions an upload may carry: miniprogram-ci's own list.
        return { errCode: 0, data: { miniProgram: ciWhiteExtList() } }
      case '/wxa-dev-logic/clientreportv2':
        // miniprogram-ci's usage report (one per upload, preview, cloud call).
        call.params = json()
        this.calls.push(call)
        return { errCode: 0 }
      case '/wxa/ci/cloudapihttpagent': {
        const params = json()
        const agent = params.agentReq as { postdata: string; service: string; action: string; version: string; region?: string }
        this.checkCiSignature(`agent ${agent.action}`, params.signature)
        if (params.appid !== this.options.appid) this.violations.push(`agent ${agent.action}: appid ${String(params.appid)}`)
        const input = JSON.parse(agent.postdata) as Record<string, unknown>
        this.calls.push({ ...call, via: 'agent', service: agent.service, action: agent.action, params: input })
        return { errCode: 0, data: { base_resp: { ret: 0 }, content: JSON.stringify(this.respond(agent.service, agent.action, input)) } }
      }
      case '/wxa/ci/getqcloudapisignature': {
        const params = json()
        this.calls.push({ ...call, params })
        this.checkCiSignature('getqcloudapisignature', params.signature)
        const signReq = params.signReq as { action: string; service: string; version: string; hashed_postdata: string }
        const token = `TC3-HMAC-SHA256 Credential=wechat-relay/${++this.sequence}`
        this.wechatSigned.set(token, signReq.hashed_postdata)
        const header = [`Authorization: ${token}`, `X-TC-Action: ${signReq.action}`, `X-TC-Version: ${signReq.version}`, `X-TC-Timestamp: ${Math.floor(Date.now() / 1000)}`, `X-TC-Region: ${this.options.region}`, 'Content-Type: application/json'].join('\n')
        return { errCode: 0, header }
      }
      case '/wxa/ci/upload':
      case '/wxa/ci/testSourceURL': {
        const files = unpackCiPackage(body)
        this.calls.push(call)
        const signature = files.get('/ci.signature')
        if (!signature) this.violations.push(`${pathname}: the package carries no ci.signature`)
        else this.checkCiSignature(pathname, (JSON.parse(signature.toString('utf8')) as { signature: string }).signature)
        if (query.appid !== this.options.appid) this.violations.push(`${pathname}: appid ${query.appid}`)
        const preview = pathname === '/wxa/ci/testSourceURL'
        this.uploads.push({ kind: preview ? 'preview' : 'upload', query, files })
        const size = [...files.values()].reduce((n, b) => n + b.length, 0)
        return { errCode: 0, body: { subpackage_info: [{ name: '__FULL__', size }], ...(preview ? { qrcode_img: this.previewImage } : {}) } }
      }
      case '/wxa/ci/get_dev_sourcemap_info': {
        call.params = json()
        this.calls.push(call)
        this.checkCiSignature('get_dev_sourcemap_info', call.params.signature)
        const total = JSON.stringify({ sourcemap_list: this.sourceMaps }).length
        return { errCode: 0, data: { total_size: total, limit: total } }
      }
      case '/wxa/ci/get_dev_sourcemap': {
        call.params = json()
        this.calls.push(call)
        this.checkCiSignature('get_dev_sourcemap', call.params.signature)
        const whole = JSON.stringify({ sourcemap_list: this.sourceMaps })
        const { offset, limit } = call.params as { offset: number; limit: number }
        return { innerRequestResp: { errCode: 0, body: whole.slice(offset, offset + limit) } }
      }
      default:
        this.calls.push(call)
        this.violations.push(`unexpected request ${req.method} servicewechat.com${pathname}`)
        return { errCode: -1, errMsg: 'not emulated' }
    }
  }

  // ---- Tencent Cloud API ------------------------------------------------------------------------------

  private fn(params: Record<string, unknown>): FakeFunction {
    const fn = this.functions.get(String(params.FunctionName))
    if (!fn) throw new ApiError('ResourceNotFound.Function', `function ${String(params.FunctionName)} does not exist`)
    if (params.Namespace !== undefined && params.Namespace !== this.options.envId) this.violations.push(`namespace ${String(params.Namespace)}`)
    return fn
  }

  private table(name: unknown): FakeTable {
    const table = this.tables.get(String(name))
    if (!table) throw new ApiError('ResourceNotFound.TableNotExist', `collection ${String(name)} does not exist`)
    return table
  }

  private code(params: Record<string, unknown>): Map<string, Buffer> {
    const zip = (params.Code as { ZipFile?: string } | undefined)?.ZipFile ?? (params.ZipFile as string | undefined)
    if (!zip) throw new ApiError('InvalidParameterValue.Code', 'no ZipFile')
    return readZip(Buffer.from(zip, 'base64'))
  }

  private envCheck(params: Record<string, unknown>): void {
    if (params.EnvId !== undefined && params.EnvId !== this.options.envId) throw new ApiError('ResourceNotFound.Env', `environment ${String(params.EnvId)} not found`)
  }

  private api(service: string, action: string, params: Record<string, unknown>): Record<string, unknown> {
    this.envCheck(params)
    const { envId, region } = this.options
    const key = `${service}.${action}`
    switch (key) {
      case 'tcb.DescribeEnvInfo':
        return {
          EnvInfo: {
            EnvBaseInfo: {
              EnvId: envId,
              Alias: 'prod',
              Status: 'NORMAL',
              Region: region,
              Source: 'miniapp',
              Databases: [{ InstanceId: 'tnt-fake', Status: 'RUNNING', Region: region }],
              Storages: [{ Region: region, Bucket: `7072-${envId}-1250000000`, CdnDomain: `7072-${envId}.tcb.qcloud.la`, AppId: '1250000000' }],
              Functions: [{ Namespace: envId, Region: region }],
              LogServices: [{ LogsetName: 'tcb', LogsetId: 'ls-fake', TopicName: envId, TopicId: 'topic-fake', Region: region }],
            },
            UserInfo: { AppId: '1250000000' },
          },
        }
      case 'tcb.DescribeEnvs':
        return {
          EnvList: [
            {
              EnvId: envId,
              Source: 'miniapp',
              Alias: 'prod',
              CreateTime: '2024-01-01 00:00:00',
              UpdateTime: '2024-01-01 00:00:00',
              Status: 'NORMAL',
              Databases: [{ InstanceId: 'tnt-fake', Status: 'RUNNING', Region: region }],
              Storages: [{ Region: region, Bucket: `7072-${envId}-1250000000`, CdnDomain: `7072-${envId}.tcb.qcloud.la`, AppId: '1250000000' }],
              Functions: [{ Namespace: envId, Region: region }],
              LogServices: [{ LogsetName: 'tcb', LogsetId: 'ls-fake', TopicName: envId, TopicId: 'topic-fake', Region: region }],
            },
          ],
        }
      case 'scf.GetFunction': {
        const fn = this.fn(params)
        const status = fn.pending.shift() ?? 'Active'
        return {
          FunctionName: params.FunctionName,
          Namespace: envId,
          Runtime: fn.Runtime,
          Handler: fn.Handler,
          Timeout: fn.Timeout,
          MemorySize: fn.MemorySize,
          Description: fn.Description,
          InstallDependency: fn.InstallDependency,
          Status: status,
          StatusDesc: '',
          StatusReasons: [],
          CodeSize: [...fn.files.values()].reduce((n, b) => n + b.length, 0),
          Environment: { Variables: Object.entries(fn.env).map(([Key, Value]) => ({ Key, Value })) },
          Triggers: fn.triggers.map((t) => ({ Type: 'timer', TriggerName: t.name, TriggerDesc: JSON.stringify({ cron: t.cron }), Enable: 1 })),
          PublicNetConfig: { PublicNetStatus: 'ENABLE', EipConfig: { EipStatus: 'DISABLE', EipAddress: [] } },
          VpcConfig: { VpcId: '', SubnetId: '' },
        }
      }
      case 'scf.CreateFunction': {
        const name = String(params.FunctionName)
        if (this.functions.has(name)) throw new ApiError('ResourceInUse.Function', `function ${name} exists`)
        const env = (params.Environment as { Variables?: { Key: string; Value: string }[] } | undefined)?.Variables ?? []
        this.functions.set(name, {
          Runtime: String(params.Runtime),
          Timeout: Number(params.Timeout ?? 3),
          MemorySize: Number(params.MemorySize ?? 256),
          Handler: String(params.Handler),
          Description: String(params.Description ?? ''),
          InstallDependency: String(params.InstallDependency ?? 'FALSE'),
          env: Object.fromEntries(env.map((v) => [v.Key, v.Value])),
          triggers: [],
          files: this.code(params),
          pending: ['Creating'],
        })
        return {}
      }
      case 'scf.UpdateFunctionCode': {
        const fn = this.fn(params)
        fn.files = this.code(params)
        fn.InstallDependency = String(params.InstallDependency ?? fn.InstallDependency)
        fn.pending = ['Updating']
        return {}
      }
      case 'scf.UpdateFunctionConfiguration': {
        const fn = this.fn(params)
        if (params.Timeout !== undefined) fn.Timeout = Number(params.Timeout)
        if (params.MemorySize !== undefined) fn.MemorySize = Number(params.MemorySize)
        if (params.Description !== undefined) fn.Description = String(params.Description)
        if (params.InstallDependency !== undefined) fn.InstallDependency = String(params.InstallDependency)
        const env = params.Environment as { Variables?: { Key: string; Value: string }[] } | undefined
        // SCF replaces the whole set.
        if (env) fn.env = Object.fromEntries((env.Variables ?? []).map((v) => [v.Key, v.Value]))
        fn.pending = ['Updating']
        return {}
      }
      case 'scf.BatchCreateTrigger': {
        const fn = this.fn(params)
        const triggers = JSON.parse(String(params.Triggers)) as { TriggerName: string; Type: string; TriggerDesc: string }[]
        if (triggers.length !== Number(params.Count)) throw new ApiError('InvalidParameterValue.Count', 'Count does not match Triggers')
        for (const t of triggers) {
          if (t.Type !== 'timer' || !/^\S+( \S+){6}$/.test(t.TriggerDesc)) throw new ApiError('InvalidParameterValue.TriggerDesc', `bad trigger ${JSON.stringify(t)}`)
          if (fn.triggers.some((e) => e.name === t.TriggerName)) throw new ApiError('ResourceInUse.Trigger', `trigger ${t.TriggerName} exists`)
        }
        fn.triggers.push(...triggers.map((t) => ({ name: t.TriggerName, cron: t.TriggerDesc })))
        return {}
      }
      case 'scf.DeleteTrigger': {
        const fn = this.fn(params)
        if (!fn.triggers.some((t) => t.name === params.TriggerName)) throw new ApiError('ResourceNotFound.Trigger', `no trigger ${String(params.TriggerName)}`)
        fn.triggers = fn.triggers.filter((t) => t.name !== params.TriggerName)
        return {}
      }
      case 'tcb.ListTables': {
        const names = [...this.tables.keys()]
        return { Tables: names.map((TableName) => ({ TableName, Count: this.tables.get(TableName)!.docs.size, Size: 0, IndexCount: this.tables.get(TableName)!.indexes.length, IndexSize: 0 })), Pager: { Offset: 0, Limit: Number(params.MgoLimit ?? 100), Total: names.length } }
      }
      case 'tcb.CreateTable': {
        const name = String(params.TableName)
        if (this.tables.has(name)) throw new ApiError('ResourceInUse.Table', `collection ${name} exists`)
        this.tables.set(name, { indexes: [{ Name: '_id_', Keys: [{ Name: '_id', Direction: '1' }], Unique: true }], rule: { AclTag: 'PRIVATE' }, docs: new Map() })
        return {}
      }
      case 'tcb.DescribeTable': {
        const table = this.table(params.TableName)
        return { Indexes: table.indexes.map((i) => ({ ...i, Size: 0, Accesses: { Ops: 0, Since: '2024-01-01T00:00:00Z' } })), IndexNum: table.indexes.length }
      }
      case 'tcb.UpdateTable': {
        const table = this.table(params.TableName)
        for (const index of (params.CreateIndexes as { IndexName: string; MgoKeySchema: { MgoIndexKeys: { Name: string; Direction: string }[]; MgoIsUnique: boolean } }[] | undefined) ?? []) {
          if (table.indexes.some((i) => i.Name === index.IndexName)) throw new ApiError('ResourceInUse.Index', `index ${index.IndexName} exists`)
          table.indexes.push({ Name: index.IndexName, Keys: index.MgoKeySchema.MgoIndexKeys, Unique: index.MgoKeySchema.MgoIsUnique })
        }
        return {}
      }
      case 'tcb.DescribeSafeRule':
        return { ...this.table(params.CollectionName).rule }
      case 'tcb.ModifySafeRule': {
        const table = this.table(params.CollectionName)
        table.rule = { AclTag: String(params.AclTag), ...(params.Rule ? { Rule: String(params.Rule) } : {}) }
        return {}
      }
      case 'tcb.DescribeStorageSafeRule':
        return { ...this.storageRule }
      case 'tcb.ModifyStorageSafeRule':
        if (params.Bucket !== `7072-${envId}-1250000000`) this.violations.push(`storage rule for bucket ${String(params.Bucket)}`)
        this.storageRule = { AclTag: String(params.AclTag), ...(params.Rule ? { Rule: String(params.Rule) } : {}) }
        return {}
      case 'tcb.RunCommands':
        return { Data: (params.MgoCommands as { TableName: string; CommandType: string; Command: string }[]).map((c) => this.runCommand(c)) }
      default:
        this.violations.push(`unexpected action ${key}`)
        throw new ApiError('InvalidAction', `${key} is not emulated`)
    }
  }

  /** The MongoDB commands the deploy sends: find by _id (or the first N), update with upsert, insert. */
  private runCommand(c: { TableName: string; CommandType: string; Command: string }): string {
    const command = EJSON.parse(c.Command) as Record<string, unknown>
    const table = this.table(c.TableName)
    if (c.CommandType === 'QUERY' && command.find === c.TableName) {
      const ids = ((command.filter as { _id?: { $in?: string[] } })?._id?.$in ?? null) as string[] | null
      let docs = [...table.docs.values()].filter((d) => !ids || ids.includes(String(d._id)))
      if (typeof command.limit === 'number') docs = docs.slice(0, command.limit)
      return JSON.stringify(docs.map((d) => EJSON.stringify(d, { relaxed: false })))
    }
    if (c.CommandType === 'UPDATE' && command.update === c.TableName) {
      for (const u of command.updates as { q: { _id: string }; u: Record<string, Record<string, unknown>>; upsert?: boolean }[]) {
        let doc = table.docs.get(u.q._id)
        const inserting = !doc
        if (!doc) {
          if (!u.upsert) continue
          doc = { _id: u.q._id }
          table.docs.set(u.q._id, doc)
        }
        applyUpdate(doc, u.u, inserting)
      }
      return JSON.stringify({ ok: 1 })
    }
    if (c.CommandType === 'INSERT' && command.insert === c.TableName) {
      for (const doc of command.documents as Record<string, unknown>[]) {
        if (table.docs.has(String(doc._id))) throw new ApiError('FailedOperation.DuplicateKey', `E11000 duplicate key ${String(doc._id)}`)
        table.docs.set(String(doc._id), doc)
      }
      return JSON.stringify({ ok: 1, n: (command.documents as unknown[]).length })
    }
    this.violations.push(`unexpected command ${c.CommandType} ${c.Command.slice(0, 80)}`)
    throw new ApiError('InvalidParameter.Command', 'not emulated')
  }
}

function setPath(doc: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.')
  let at = doc
  for (const part of parts.slice(0, -1)) {
    if (!at[part] || typeof at[part] !== 'object') at[part] = {}
    at = at[part] as Record<string, unknown>
  }
  at[parts[parts.length - 1]!] = value
}

function applyUpdate(doc: Record<string, unknown>, update: Record<string, Record<string, unknown>>, inserting: boolean): void {
  for (const [op, fields] of Object.entries(update)) {
    for (const [field, value] of Object.entries(fields)) {
      if (op === '$set') setPath(doc, field, value)
      else if (op === '$setOnInsert') {
        if (inserting) setPath(doc, field, value)
      } else if (op === '$addToSet') {
        const list = Array.isArray(doc[field]) ? (doc[field] as unknown[]) : []
        for (const item of (value as { $each?: unknown[] }).$each ?? [value]) if (!list.includes(item)) list.push(item)
        doc[field] = list
      } else if (op === '$pullAll') {
        doc[field] = (Array.isArray(doc[field]) ? (doc[field] as unknown[]) : []).filter((item) => !(value as unknown[]).includes(item))
      } else throw new ApiError('InvalidParameter.Command', `update operator ${op} not emulated`)
    }
  }
}

function ciWhiteExtList(): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('miniprogram-ci/dist/utils/white_ext_list') as { MiniProgramWhiteList: string[] }).MiniProgramWhiteList
}

function ciDefaultAttr(): unknown {
  // What servicewechat.com answers for an ordinary mini-program: miniprogram-ci's own default.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('miniprogram-ci/dist/config/config') as { DefaultProjectAttr: unknown }).DefaultProjectAttr
}
