/**
 * One typed call per function action. Reads and idempotent writes retry; a view-counting read
 * (content.detail) does not, so a lost reply never counts a view twice.
 */
import { call } from './cloud'
import type { Input } from './cloud'

const SAFE = { retries: 2 }

export const api = {
  user: {
    login: (input: Input<'user', 'login'> = {}) => call('user', 'login', input, SAFE),
    bootstrap: (input: Input<'user', 'bootstrap'> = {}) => call('user', 'bootstrap', input, SAFE),
    profile: () => call('user', 'profile', {}, SAFE),
    updateProfile: (input: Input<'user', 'updateProfile'>) => call('user', 'updateProfile', input, SAFE),
    setOnboarding: (input: Input<'user', 'setOnboarding'>) => call('user', 'setOnboarding', input, SAFE),
  },
  content: {
    categories: () => call('content', 'categories', {}, SAFE),
    list: (input: Input<'content', 'list'>) => call('content', 'list', input, SAFE),
    detail: (input: Input<'content', 'detail'>) => call('content', 'detail', input),
  },
  // Only the admin check: the dashboard's own queries live in its subpackage (packages/admin/data.ts).
  analytics: {
    access: () => call('analytics', 'access', {}, SAFE),
  },
  // Only what every device reads at launch: admin actions live in packages/admin/data.ts.
  experiments: {
    config: () => call('experiments', 'config', {}, SAFE),
  },
  // The subscribe button's two calls; record is not retried (an accept adds to the quota).
  notify: {
    status: () => call('notify', 'status', {}, SAFE),
    record: (input: Input<'notify', 'record'>) => call('notify', 'record', input),
  },
}
