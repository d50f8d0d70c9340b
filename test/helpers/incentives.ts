/** Calls to the `incentives` function and reads of what it stored, for the tests that exercise it. */
import type { PointsAccountDoc, PointsLedgerDoc } from '../../cloudfunctions/_shared/models'
import type { IncentivesOutputs } from '../../cloudfunctions/incentives/api'
import { auditLedger } from '../../cloudfunctions/incentives/rules'
import { callAction, type TestCloud } from './local-cloud'

export type Out = IncentivesOutputs
export type Doc = Record<string, unknown>
export interface Failure {
  code: string
  message: string
  issues?: { path: string; message: string }[]
}

export function incentives(t: () => TestCloud) {
  /** Every matching document (the store, like the cloud, returns at most 1000 per read). */
  function find(collection: string, query: Doc = {}): Doc[] {
    const docs: Doc[] = []
    for (;;) {
      const page = t().cloud.store.find(collection, { query, limit: 1000, offset: docs.length }) as Doc[]
      docs.push(...page)
      if (page.length < 1000) return docs
    }
  }
  const account = (openid: string) => find('points_accounts', { _id: openid })[0] as PointsAccountDoc | undefined
  return {
    find,
    account,
    balance: (openid: string) => account(openid)?.balance ?? 0,
    /** The user's ledger entries in order. */
    entries: (openid: string) => (find('points_ledger', { openid }) as unknown as PointsLedgerDoc[]).sort((a, b) => a.seq - b.seq),
    /** What is wrong with balance = sum(ledger) and the rest, over every user ([] when sound). */
    audit: () => auditLedger(find('points_accounts') as unknown as PointsAccountDoc[], find('points_ledger') as unknown as PointsLedgerDoc[]),
    /** Every document incentives writes, to show a refused or failed call changed nothing. */
    snapshot: () => JSON.stringify(['points_accounts', 'points_ledger', 'checkins', 'referrals', 'invite_codes', 'channel_codes'].map((c) => find(c))),
    async ok<A extends keyof Out>(action: A, data: unknown, openid: string): Promise<Out[A]> {
      const reply = await callAction<Out[A]>(t().url, 'incentives', action, data, openid)
      if (!reply.ok) throw new Error(`${action} failed: ${JSON.stringify(reply.error)}`)
      return reply.data
    },
    async fail(action: string, data: unknown, openid?: string): Promise<Failure> {
      const reply = await callAction(t().url, 'incentives', action, data, openid)
      if (reply.ok) throw new Error(`${action} succeeded, expected a refusal: ${JSON.stringify(reply.data)}`)
      return reply.error
    },
  }
}
