/**
 * The states table: every page state the gallery shows. Add a row to add a state (state.ts says
 * what a row can say); `npm run screenshots -- <name>` renders just it.
 */
import { MP_ROOT } from '../miniprogram/simulate/mount'
import type { StatesModule } from './cli'
import type { State } from './state'

const HOME = 'pages/home/index'

const states: State[] = [
  {
    name: 'home',
    description: 'Home: categories and the newest guides',
    page: HOME,
    below: 0,
    ready: async (p) => {
      await p.waitFor(() => p.page.data.status === 'ready' && p.page.data.tabs.length > 1 && p.page.data.tagline !== '', 'guides and categories')
    },
  },
  {
    name: 'home-loading',
    description: 'Home while the first page of guides loads (skeleton)',
    page: HOME,
    below: 0,
    network: ({ fn }) => (fn === 'content' ? 'hang' : 'pass'),
    ready: async (p) => {
      await p.waitFor(() => p.find('t-skeleton').length > 0, 'the skeleton')
    },
  },
  {
    name: 'me',
    description: 'Me: profile, level, rewards, nickname, entries',
    page: 'packages/me/index',
    ready: async (p) => {
      await p.waitFor(() => p.page.data.status === 'ready' && p.page.data.level !== null, 'the profile and the level')
    },
  },
]

const table: StatesModule = { root: MP_ROOT, states }
export default table
