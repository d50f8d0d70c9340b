/**
 * The incentive pages' calls to the `incentives` function (here rather than in core/api.ts, so the
 * main package every user downloads does not carry them). Grants are idempotent in the cloud (a
 * repeated check-in or claim answers with the first result), so they retry like reads; a make-up
 * does not: repeated after a lost reply it would be refused as "already checked in".
 */
import { call, CloudError, describeError, type Input } from '../../core/cloud'

const SAFE = { retries: 2 }

export const incentives = {
  summary: () => call('incentives', 'summary', {}, SAFE),
  checkin: (input: Input<'incentives', 'checkin'> = {}) => call('incentives', 'checkin', input, SAFE),
  makeup: (input: Input<'incentives', 'makeup'>) => call('incentives', 'makeup', input),
  calendar: (input: Input<'incentives', 'calendar'>) => call('incentives', 'calendar', input, SAFE),
  tasks: () => call('incentives', 'tasks', {}, SAFE),
  claimTask: (input: Input<'incentives', 'claimTask'>) => call('incentives', 'claimTask', input, SAFE),
  invite: () => call('incentives', 'invite', {}, SAFE),
  ledger: (input: Input<'incentives', 'ledger'>) => call('incentives', 'ledger', input, SAFE),
}

/**
 * What to tell the user about a failed call. The function words its refusals for users (not
 * enough points, make-ups used up, task not completed...): those are shown as they are; anything
 * else (network, a malformed request) gets the client's generic sentence.
 */
export function refusalText(err: unknown): string {
  if (err instanceof CloudError && /[\u4e00-\u9fff]/.test(err.message) && ['FORBIDDEN', 'CONFLICT', 'RATE_LIMITED', 'NOT_FOUND', 'INVALID_INPUT'].includes(err.code)) {
    return err.message
  }
  return describeError(err)
}
