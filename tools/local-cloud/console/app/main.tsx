/**
 * The local console: the cloud console's jobs for the local cloud (data, config, storage, messages,
 * timers, export), with TDesign for the web so it matches the mini-program's design language.
 * Pages are addressed by the URL hash (#/database), so a link or a test opens one directly.
 */
import { useEffect, useState } from 'react'
import { createRoot } from 'react-dom/client'
import { Layout, Menu, Tag } from 'tdesign-react'
import 'tdesign-react/es/style/index.css'
import { api, type Overview } from './api'
import { ConfigPage } from './pages/config'
import { DataPage } from './pages/data'
import { DatabasePage } from './pages/database'
import { MessagesPage } from './pages/messages'
import { OverviewPage } from './pages/overview'
import { StoragePage } from './pages/storage'
import { TimersPage } from './pages/timers'
import './style.css'

const PAGES = {
  overview: { title: '概览', render: () => <OverviewPage /> },
  database: { title: '数据库', render: () => <DatabasePage /> },
  config: { title: '配置', render: () => <ConfigPage /> },
  storage: { title: '存储', render: () => <StoragePage /> },
  messages: { title: '订阅消息', render: () => <MessagesPage /> },
  timers: { title: '定时触发器', render: () => <TimersPage /> },
  data: { title: '导入导出', render: () => <DataPage /> },
} as const

type PageKey = keyof typeof PAGES

function pageFromHash(): PageKey {
  const key = location.hash.replace(/^#\/?/, '').split('?')[0] ?? ''
  return key in PAGES ? (key as PageKey) : 'overview'
}

function App() {
  const [page, setPage] = useState<PageKey>(pageFromHash)
  const [env, setEnv] = useState<Overview | null>(null)
  useEffect(() => {
    const onHash = () => setPage(pageFromHash())
    window.addEventListener('hashchange', onHash)
    api<Overview>('GET', 'overview').then(setEnv, () => undefined)
    return () => window.removeEventListener('hashchange', onHash)
  }, [])
  return (
    <Layout className="console">
      <Layout.Aside width="200px" className="console-aside">
        <div className="console-brand">
          本地云开发
          {env && <Tag size="small" theme="primary" variant="light">{env.env}</Tag>}
        </div>
        <Menu value={page} onChange={(value) => (location.hash = `#/${String(value)}`)} width="200px">
          {(Object.keys(PAGES) as PageKey[]).map((key) => (
            <Menu.MenuItem key={key} value={key} data-page={key}>
              {PAGES[key].title}
            </Menu.MenuItem>
          ))}
        </Menu>
      </Layout.Aside>
      <Layout.Content className="console-content">
        <h1 className="console-title">{PAGES[page].title}</h1>
        {PAGES[page].render()}
      </Layout.Content>
    </Layout>
  )
}

createRoot(document.getElementById('root')!).render(<App />)
