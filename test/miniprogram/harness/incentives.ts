/**
 * The incentive tests' access to a local cloud process: the `incentives` function's answers,
 * documents read and written through the cloud's own protocol, and users who joined days ago.
 */
import { randomBytes } from 'node:crypto'
import type { Result } from '../../../cloudfunctions/_shared/contract'
import type { IncentivesOutputs } from '../../../cloudfunctions/incentives/api'
import { addDays, shanghaiToday } from '../../../miniprogram/packages/admin/range'
import { adminRequest, callFunction } from './net'

export type Doc = Record<string, any>

/** A development openid as a device in local mode has one (dev- and 12 characters). */
export const newOpenid = () => `dev-${randomBytes(6).toString('hex')}`

export function incentivesCloud(url: () => string) {
  async function insert(collection: string, doc: Doc): Promise<void> {
    const reply = await adminRequest(url(), { action: 'database.insertDocument', collectionName: collection, data: [JSON.stringify(doc)] })
    if (reply.status !== 200 || !reply.body.data?.insertedIds) throw new Error(`insert into ${collection}: ${JSON.stringify(reply.body)}`)
  }
  async function docs(collection: string, query: Doc): Promise<Doc[]> {
    const reply = await adminRequest(url(), { action: 'database.getDocument', collectionName: collection, queryType: 'WHERE', query: JSON.stringify(query), limit: 1000 })
    if (reply.status !== 200) throw new Error(`read ${collection}: ${JSON.stringify(reply.body)}`)
    return (reply.body.data.list as string[]).map((text) => JSON.parse(text) as Doc)
  }
  return {
    insert,
    docs,
    /** The user's ledger entries in order. */
    ledger: async (openid: string) => (await docs('points_ledger', { openid })).sort((a, b) => a.seq - b.seq),
    balance: async (openid: string): Promise<number> => (await docs('points_accounts', { _id: openid }))[0]?.balance ?? 0,
    async incentives<A extends keyof IncentivesOutputs>(action: A, data: unknown, openid: string): Promise<IncentivesOutputs[A]> {
      const result = (await callFunction(url(), 'incentives', action, data, openid)) as Result<IncentivesOutputs[A]>
      if (!result.ok) throw new Error(`${action}: ${result.error.code} ${result.error.message}`)
      return result.data
    },
    async login(openid: string): Promise<void> {
      const result = (await callFunction(url(), 'user', 'login', {}, openid)) as Result<unknown>
      if (!result.ok) throw new Error(JSON.stringify(result))
    },
    /** A user who joined `daysAgo` days ago, stored as the `user` function stores them. */
    async userSince(daysAgo: number, openid = newOpenid()): Promise<string> {
      const day = addDays(shanghaiToday(), -daysAgo)
      const at = { $date: `${day}T02:00:00.000Z` }
      await insert('users', { _id: openid, openid, appid: '', nickname: '', avatarUrl: '', firstSeenAt: at, firstSeenDay: day, lastSeenAt: at, lastSeenDay: day, updatedAt: at })
      return openid
    },
  }
}
