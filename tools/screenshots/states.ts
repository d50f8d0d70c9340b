/**
 * The states table: every page state the gallery shows, in the order it shows them. A row says
 * which page, who opens it and how, what the network does, and how to drive the page into the
 * state (state.ts has every field). Add a row to add a state; `npm run screenshots -- <name>`
 * renders just that one (or `-- admin` for every admin-* row).
 */
import type { FakeWx } from '../miniprogram/fake-wx'
import { MP_ROOT } from '../miniprogram/simulate/mount'
import type { StatesModule } from './cli'
import type { State, StatePage } from './state'

const HOME = 'pages/home/index'
const GUIDE = 'packages/guide/detail/index'
const ME = 'packages/me/index'
const ADMIN = 'packages/admin/index'

/** A phone where the onboarding guide ended long ago (and the cloud knows): a returning user's. */
const guideSeen = (fake: FakeWx) => fake.storage.set('onboarding', { status: 'finished', step: 'me', synced: true })

const ready = (p: StatePage, status = 'ready') => p.waitFor(() => p.page.data.status === status, `status ${status}`)

/** The dashboard on one of its tabs, for an admin. */
function adminTab(tab: string, description: string, loaded: (p: StatePage) => boolean): State {
  return {
    name: `admin-${tab}`,
    description,
    page: ADMIN,
    query: { tab },
    user: 'admin',
    traffic: true,
    ready: (p) => p.waitFor(() => p.page.data.status[tab] === 'ready' && loaded(p), `the ${tab} tab`),
  }
}

const states: State[] = [
  // ---- home ----------------------------------------------------------------------------------
  {
    name: 'home',
    description: 'Home on a first visit of a returning user: categories and the newest guides',
    page: HOME,
    below: 0,
    device: guideSeen,
    ready: (p) => p.waitFor(() => p.page.data.status === 'ready' && p.page.data.tabs.length > 1 && p.page.data.tagline !== '', 'guides and categories'),
  },
  {
    name: 'home-loading',
    description: 'Home while the guides load (skeleton)',
    page: HOME,
    below: 0,
    device: guideSeen,
    network: ({ fn }) => (fn === 'content' ? 'hang' : 'pass'),
    ready: (p) => p.waitFor(() => p.find('skeleton__row').length > 0 && p.page.data.tagline !== '', 'the skeleton'),
  },
  {
    name: 'home-error',
    description: 'Home when the guides cannot be loaded (offline)',
    page: HOME,
    below: 0,
    device: guideSeen,
    network: () => 'fail',
    ready: (p) => ready(p, 'error'),
  },
  {
    name: 'home-first-launch',
    description: 'First launch: the guides have arrived, the categories not yet',
    page: HOME,
    below: 0,
    user: 'newcomer',
    device: guideSeen,
    network: ({ fn, action }) => (fn === 'content' && action === 'categories' ? 'hang' : 'pass'),
    ready: (p) => p.waitFor(() => p.page.data.status === 'ready' && p.page.data.tagline !== '', 'the guides'),
  },
  {
    name: 'home-privacy',
    description: 'First launch: the privacy popup',
    page: HOME,
    below: 0,
    user: 'newcomer',
    launch: true,
    device: (fake) => {
      fake.privacy.needAuthorization = true
    },
    ready: async (p) => {
      await ready(p)
      await p.waitFor(() => (p.page.selectComponent('#privacy-popup') as { data: { visible: boolean } } | null)?.data.visible === true, 'the privacy popup')
    },
  },
  {
    name: 'home-onboarding-1',
    description: 'First launch, privacy agreed: the onboarding guide, step 1',
    page: HOME,
    below: 0,
    user: 'newcomer',
    launch: true,
    ready: async (p) => {
      await ready(p)
      await p.waitText('按分类找指南')
    },
  },
  {
    name: 'home-onboarding-2',
    description: 'The onboarding guide, step 2 (after 下一步)',
    page: HOME,
    below: 0,
    user: 'newcomer',
    launch: true,
    ready: async (p) => {
      await ready(p)
      await p.waitText('按分类找指南')
      await p.tapText('下一步')
      await p.waitText('点开就能学')
    },
  },

  // ---- guide ---------------------------------------------------------------------------------
  {
    name: 'guide',
    description: 'A guide, opened from home',
    page: GUIDE,
    query: { id: 'power-strip-safety' },
    ready: (p) => ready(p),
  },
  {
    name: 'guide-shared',
    description: 'A guide opened from a share card (the first page: a way to the rest of the app)',
    page: GUIDE,
    query: { id: 'screen-eye-strain' },
    below: 0,
    ready: (p) => ready(p),
  },
  {
    name: 'guide-missing',
    description: 'A guide that does not exist (or was taken down)',
    page: GUIDE,
    query: { id: 'no-such-guide' },
    ready: (p) => ready(p, 'missing'),
  },

  // ---- me ------------------------------------------------------------------------------------
  {
    name: 'me',
    description: 'Me: profile, level, rewards, nickname and the entries',
    page: ME,
    ready: (p) => p.waitFor(() => p.page.data.status === 'ready' && p.page.data.level !== null, 'the profile and the level'),
  },
  {
    name: 'me-error',
    description: 'Me when the profile cannot be loaded (offline)',
    page: ME,
    network: () => 'fail',
    ready: (p) => ready(p, 'error'),
  },

  // ---- incentives ----------------------------------------------------------------------------
  {
    name: 'checkin',
    description: 'Check-in before checking in today: streak, calendar with a made-up day and missed days',
    page: 'packages/incentives/checkin/index',
    ready: (p) => ready(p),
  },
  {
    name: 'checkin-done',
    description: 'Check-in right after checking in: the reward toast and the reminder offer',
    page: 'packages/incentives/checkin/index',
    user: 'checker',
    toast: true,
    ready: async (p) => {
      await ready(p)
      await p.tapText(`签到 +${p.page.data.todayReward as number} 积分`)
      await p.waitFor(() => p.page.data.checkedInToday === true && p.fake.log.toasts.length > 0, 'the check-in')
      await p.waitFor(() => p.page.data.reminder === 'offer', 'the reminder offer')
    },
  },
  {
    name: 'tasks',
    description: 'Task center: new-user and daily tasks, one claimed',
    page: 'packages/incentives/tasks/index',
    ready: (p) => ready(p),
  },
  {
    name: 'points',
    description: 'Points: balance, level and the ledger',
    page: 'packages/incentives/points/index',
    ready: (p) => ready(p),
  },
  {
    name: 'points-empty',
    description: 'Points of a new user: no entries yet',
    page: 'packages/incentives/points/index',
    user: 'newcomer',
    ready: (p) => ready(p),
  },
  {
    name: 'invite',
    description: 'Invite friends: the code and the poster drawn on canvas',
    page: 'packages/incentives/invite/index',
    ready: (p) => p.waitFor(() => p.page.data.status === 'ready' && p.page.data.poster === 'ready', 'the poster'),
  },

  // ---- survey --------------------------------------------------------------------------------
  {
    name: 'home-survey',
    description: 'The one-question survey (NPS, with a reason) over home, a score picked',
    page: HOME,
    below: 0,
    device: guideSeen,
    ready: async (p) => {
      const survey = { id: 'nps_shot', enabled: true, kind: 'nps', question: '你有多大可能把我们推荐给朋友？', followUp: '主要原因是什么？', target: { everyDays: 30 } }
      if ((await p.world.db.count('app_config', { _id: 'survey' })) === 0) await p.world.db.insert('app_config', [{ _id: 'survey', surveys: [survey] }])
      await p.waitFor(() => p.page.data.status === 'ready', 'the guides')
      await p.page.onReady()
      await p.waitFor(() => p.find('option').length === 11, 'the survey sheet')
      await p.tap(p.find('option')[9]!)
    },
  },

  {
    name: 'survey-results',
    description: '调研结果 for an admin: NPS, the 0–10 distribution, per day',
    page: 'packages/survey-results/index',
    user: 'admin',
    ready: async (p) => {
      const survey = { id: 'nps_shot', enabled: true, kind: 'nps', question: '你有多大可能把我们推荐给朋友？', followUp: '主要原因是什么？', target: { everyDays: 30 } }
      if ((await p.world.db.count('app_config', { _id: 'survey' })) === 0) await p.world.db.insert('app_config', [{ _id: 'survey', surveys: [survey] }])
      const scores = [10, 10, 9, 9, 9, 8, 8, 7, 6, 4, 10, 9]
      for (const [i, score] of scores.entries()) await p.world.call('survey', 'answer', { surveyId: 'nps_shot', score }, `dev-shotsurvey${String(i).padStart(2, '0')}`)
      await p.page.load()
      await ready(p)
    },
  },

  // ---- feedback ------------------------------------------------------------------------------
  {
    name: 'feedback-form',
    description: 'The feedback form, opened from the check-in page',
    page: 'packages/feedback/form/index',
    query: { from: 'packages/incentives/checkin/index' },
    ready: (p) => p.waitText('问题或建议'),
  },
  {
    name: 'feedback-mine',
    description: 'My feedback: a reply with a screenshot, and one waiting',
    page: 'packages/feedback/mine/index',
    ready: (p) => ready(p),
  },
  {
    name: 'feedback-inbox',
    description: 'The admins’ inbox: open feedback with its context',
    page: 'packages/feedback/inbox/index',
    user: 'admin',
    ready: (p) => ready(p),
  },

  // ---- dashboard -----------------------------------------------------------------------------
  adminTab('overview', 'Dashboard: today against yesterday and a week ago, trends', (p) => p.page.data.charts !== null),
  adminTab('retention', 'Dashboard: retention heat map', (p) => p.page.data.retention !== null),
  adminTab('funnels', 'Dashboard: funnels', () => true),
  adminTab('channels', 'Dashboard: new users by channel', () => true),
  adminTab('errors', 'Dashboard: errors and alerts', (p) => p.page.data.errors !== null),
  adminTab('experiments', 'Dashboard: the home tagline experiment', (p) => p.page.data.experiments.length > 0),
  {
    name: 'admin-denied',
    description: 'The dashboard for someone who is not an admin',
    page: ADMIN,
    ready: (p) => p.waitFor(() => p.page.data.access === 'denied' && p.page.data.openid !== '', 'the no-access state'),
  },
]

const table: StatesModule = { root: MP_ROOT, states }
export default table
