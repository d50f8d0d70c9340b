/**
 * Cloud calls to WeChat's open API (`cloud.openapi.*`), as the SDK sends them: multipart form data
 * with `apiName` and `requestData`, a protobuf CommApiData whose pairs hold each parameter as JSON.
 * The reply is a protobuf CommOpenApiResp carrying the API's JSON (or image bytes).
 *
 * Implemented locally:
 *  - subscribeMessage.send   -> stored in the `_outbox` collection to inspect
 *  - wxacode.getUnlimited    -> a real PNG QR code that encodes page + scene
 *  - security.msgSecCheck    -> a configurable word list (v1 and v2)
 *  - security.mediaCheckAsync -> a trace_id; the check is stored in `_media_checks` (the verdict is
 *    WeChat's later push, which a test or a developer sends to the function: docs/local-cloud.md)
 */
import { existsSync, readFileSync } from 'node:fs'
import protobuf from 'protobufjs'
import QRCode from 'qrcode'
import type { DocumentStore } from '../db/store'

const proto = protobuf.Root.fromJSON({
  nested: {
    KeyValuePair: {
      fields: {
        key: { type: 'string', id: 1 },
        value: { type: 'bytes', id: 2 },
        contenttype: { type: 'string', id: 3 },
        filename: { type: 'string', id: 4 },
      },
    },
    OpenApiData: { fields: { pairs: { rule: 'repeated', type: 'KeyValuePair', id: 1 } } },
    CommApiData: {
      fields: {
        apiType: { type: 'int32', id: 1 },
        openapiData: { type: 'OpenApiData', id: 2 },
        appid: { type: 'string', id: 6 },
      },
    },
    CommOpenApiResp: {
      fields: {
        respData: { type: 'bytes', id: 1 },
        contentType: { type: 'string', id: 2 },
        errorCode: { type: 'int32', id: 3 },
        httpCode: { type: 'uint32', id: 4 },
      },
    },
  },
})
const CommApiData = proto.lookupType('CommApiData')
const CommOpenApiResp = proto.lookupType('CommOpenApiResp')

export const OUTBOX = '_outbox'

/**
 * Failures to rehearse: a document `{ api: 'subscribeMessage.send', errcode: 43101, touser?, times? }`
 * in this collection makes the next matching call (to `touser`, or any when absent) fail with that
 * errcode, `times` times (once when absent; -1 for every call), as WeChat would answer it.
 */
export const OPENAPI_FAULTS = '_openapi_faults'

/** The errcode of an armed fault for this call, consuming one of its `times`; undefined when none. */
function takeFault(ctx: OpenApiContext, api: string, touser: unknown): number | undefined {
  const faults = ctx.store.find(OPENAPI_FAULTS, { query: { api }, limit: 1000 })
  const fault = faults.find((f) => f.touser === undefined || f.touser === touser)
  if (!fault || typeof fault.errcode !== 'number') return undefined
  const times = typeof fault.times === 'number' ? fault.times : 1
  if (times === 1) ctx.store.remove(OPENAPI_FAULTS, { _id: fault._id }, false)
  else if (times > 1) ctx.store.modify(OPENAPI_FAULTS, { query: { _id: fault._id }, data: { $set: { times: times - 1 } }, merge: true, upsert: false, multi: false })
  return fault.errcode
}

const FAULT_MESSAGES: Record<number, string> = {
  43101: 'user refuse to accept the msg',
  43107: 'the subscription has expired',
  40003: 'invalid openid',
  45009: 'reach max api daily quota limit',
  '-1': 'system error',
}

/** Platform error codes the SDK turns into errCode (not API errcodes). */
export const OPENAPI_NOT_FOUND = -604100
export const OPENAPI_NO_PERMISSION = -604101

export interface OpenApiContext {
  store: DocumentStore
  appid: string
  /** Pages of the mini-program (from app.json), for getUnlimited's check_path; null when unknown. */
  pages: () => Set<string> | null
  /** msgSecCheck word list: word -> label. */
  words: () => Map<string, number>
  now: () => Date
}

export interface OpenApiReply {
  /** The reply body: a protobuf CommOpenApiResp. */
  body: Buffer
}

function reply(respData: Buffer, contentType: string, errorCode = 0): OpenApiReply {
  const message = CommOpenApiResp.create({ respData, contentType, errorCode, httpCode: 200 })
  return { body: Buffer.from(CommOpenApiResp.encode(message).finish()) }
}

function json(value: unknown): OpenApiReply {
  return reply(Buffer.from(JSON.stringify(value)), 'application/json; charset=utf-8')
}

function wxError(errcode: number, errmsg: string): OpenApiReply {
  return json({ errcode, errmsg })
}

/** A platform-level failure (no permission, unknown API): no API payload, just errorCode. */
export function platformError(errorCode: number): OpenApiReply {
  return reply(Buffer.alloc(0), '', errorCode)
}

/** Decodes requestData into the API's parameters (snake_case, as the SDK converted them). */
export function decodeRequest(requestData: Buffer): Record<string, unknown> {
  const message = CommApiData.toObject(CommApiData.decode(requestData), { bytes: Buffer }) as {
    openapiData?: { pairs?: { key: string; value?: Buffer }[] }
  }
  const params: Record<string, unknown> = {}
  for (const pair of message.openapiData?.pairs ?? []) {
    const text = pair.value ? Buffer.from(pair.value).toString('utf8') : ''
    try {
      params[pair.key] = JSON.parse(text)
    } catch {
      params[pair.key] = text
    }
  }
  return params
}

// ---- subscribeMessage.send -----------------------------------------------------------------------

function subscribeMessageSend(ctx: OpenApiContext, params: Record<string, unknown>): OpenApiReply {
  const touser = params.touser
  const templateId = params.template_id
  const data = params.data
  if (typeof touser !== 'string' || touser.length === 0) return wxError(40003, 'invalid openid')
  if (typeof templateId !== 'string' || templateId.length === 0) return wxError(40037, 'invalid template_id')
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return wxError(47003, 'argument invalid! data is empty')
  for (const [field, entry] of Object.entries(data as Record<string, unknown>)) {
    const value = (entry as { value?: unknown } | null)?.value
    if (typeof value !== 'string' && typeof value !== 'number') {
      return wxError(47003, `argument invalid! data.${field}.value is empty`)
    }
  }
  const fault = takeFault(ctx, 'subscribeMessage.send', touser)
  if (fault !== undefined) return wxError(fault, FAULT_MESSAGES[fault] ?? 'injected failure')
  const state = params.miniprogram_state ?? 'formal'
  if (!['developer', 'trial', 'formal'].includes(String(state))) return wxError(47003, 'argument invalid! miniprogram_state')
  const [msgid] = ctx.store.insert(OUTBOX, [
    {
      touser,
      templateId,
      page: typeof params.page === 'string' ? params.page : '',
      data,
      miniprogramState: state,
      lang: params.lang ?? 'zh_CN',
      appid: ctx.appid,
      sentAt: ctx.now(),
    },
  ])
  return json({ errcode: 0, errmsg: 'ok', msgid })
}

// ---- wxacode.getUnlimited ------------------------------------------------------------------------

/** Characters WeChat allows in a mini-program code's scene. */
const SCENE_CHARS = /^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]*$/

/**
 * pngjs options (qrcode passes them through; its types know only the deflate ones): one PNG filter
 * (Up: a QR code's rows repeat) instead of pngjs's per-row trial of all five, which costs seconds per
 * code inside jest's sandbox, where its loops read globals through the vm context (1.6 s -> 0.5 s).
 */
const PNG_OPTIONS: { deflateLevel: number; filterType: number } = { deflateLevel: 9, filterType: 2 }

async function wxacodeGetUnlimited(ctx: OpenApiContext, params: Record<string, unknown>): Promise<OpenApiReply> {
  const scene = params.scene
  if (typeof scene !== 'string' || scene.length === 0 || scene.length > 32 || !SCENE_CHARS.test(scene)) {
    return wxError(40169, 'invalid length for scene, or the data is not json string')
  }
  const page = typeof params.page === 'string' && params.page.length > 0 ? params.page.replace(/^\//, '') : ''
  if (page) {
    const checkPath = params.check_path !== false
    const pages = ctx.pages()
    if (checkPath && pages && !pages.has(page)) return wxError(41030, 'invalid page rid: local')
  }
  const width = typeof params.width === 'number' ? Math.min(1280, Math.max(280, params.width)) : 430
  const env = typeof params.env_version === 'string' ? params.env_version : 'release'
  if (!['release', 'trial', 'develop'].includes(env)) return wxError(40097, 'invalid args: env_version')
  const text = `${page}?scene=${encodeURIComponent(scene)}`
  const png = await QRCode.toBuffer(text, {
    type: 'png',
    width,
    margin: 2,
    errorCorrectionLevel: 'M',
    rendererOpts: PNG_OPTIONS,
    color: { dark: '#000000', light: params.is_hyaline === true ? '#0000' : '#ffffff' },
  })
  return reply(png, 'image/png')
}

// ---- security.msgSecCheck ------------------------------------------------------------------------

export const MSGSEC_LABELS: Record<number, string> = {
  100: 'normal',
  10001: 'ad',
  20001: 'politics',
  20002: 'porn',
  20003: 'abuse',
  20006: 'crime',
  20008: 'fraud',
  20012: 'vulgar',
  20013: 'copyright',
  21000: 'other',
}

/** Reads a word list: one `word` or `word<TAB>label` per line, `#` for comments. */
export function loadWordList(file: string): Map<string, number> {
  const words = new Map<string, number>()
  if (!existsSync(file)) return words
  for (const raw of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const [word, label] = line.split('\t')
    const code = Number(label)
    if (word) words.set(word.toLowerCase(), Number.isFinite(code) && code in MSGSEC_LABELS ? code : 21000)
  }
  return words
}

function msgSecCheck(ctx: OpenApiContext, params: Record<string, unknown>): OpenApiReply {
  const content = params.content
  if (typeof content !== 'string' || content.length === 0) return wxError(47001, 'data format error: content is empty')
  if (content.length > 2500) return wxError(40006, 'invalid content size: at most 2500 characters')
  const lower = content.toLowerCase()
  const hits = [...ctx.words()].filter(([word]) => lower.includes(word))
  const version = params.version
  if (version !== 2) {
    // v1: errcode 87014 for risky content
    return hits.length > 0 ? wxError(87014, 'risky content') : json({ errcode: 0, errmsg: 'ok' })
  }
  const scene = params.scene
  if (scene !== 1 && scene !== 2 && scene !== 3 && scene !== 4) return wxError(40097, 'invalid args: scene must be 1, 2, 3 or 4')
  if (typeof params.openid !== 'string' || params.openid.length === 0) return wxError(40003, 'invalid openid')
  const label = hits[0]?.[1] ?? 100
  const suggest = hits.length > 0 ? 'risky' : 'pass'
  return json({
    errcode: 0,
    errmsg: 'ok',
    result: { suggest, label },
    detail: [
      {
        strategy: 'keyword',
        errcode: 0,
        suggest,
        label,
        ...(hits[0] ? { keyword: hits[0][0], level: 90 } : {}),
      },
    ],
    trace_id: `local-${Date.now().toString(36)}`,
  })
}

// ---- security.mediaCheckAsync --------------------------------------------------------------------

/** Media submitted for the asynchronous check: `{ _id: trace_id, media_url, media_type, scene, openid, at }`. */
export const MEDIA_CHECKS = '_media_checks'

function mediaCheckAsync(ctx: OpenApiContext, params: Record<string, unknown>): OpenApiReply {
  const { media_url: url, media_type: type, version, scene, openid } = params
  if (typeof url !== 'string' || !/^https?:\/\/\S+$/.test(url)) return wxError(40001, 'invalid media_url')
  if (type !== 1 && type !== 2) return wxError(40097, 'invalid args: media_type must be 1 (audio) or 2 (image)')
  if (version !== 2) return wxError(40097, 'invalid args: version must be 2')
  if (scene !== 1 && scene !== 2 && scene !== 3 && scene !== 4) return wxError(40097, 'invalid args: scene must be 1, 2, 3 or 4')
  if (typeof openid !== 'string' || openid.length === 0) return wxError(40003, 'invalid openid')
  const fault = takeFault(ctx, 'security.mediaCheckAsync', openid)
  if (fault !== undefined) return wxError(fault, FAULT_MESSAGES[fault] ?? 'error')
  const traceId = `local-media-${ctx.now().getTime().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
  ctx.store.insert(MEDIA_CHECKS, [{ _id: traceId, media_url: url, media_type: type, scene, openid, at: ctx.now() }])
  return json({ errcode: 0, errmsg: 'ok', trace_id: traceId })
}

export const OPENAPI_HANDLERS: Record<string, (ctx: OpenApiContext, params: Record<string, unknown>) => OpenApiReply | Promise<OpenApiReply>> = {
  'subscribeMessage.send': subscribeMessageSend,
  'wxacode.getUnlimited': wxacodeGetUnlimited,
  'security.msgSecCheck': msgSecCheck,
  'security.mediaCheckAsync': mediaCheckAsync,
}
