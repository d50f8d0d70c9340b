/**
 * Editors for the `app_config` documents and the `experiments` collection. Each edit is checked
 * while typing by the schema its function reads it with (the server runs the same check), the
 * typed issues show before saving, and a document with issues is not saved. Each editor says when a
 * running function instance picks the change up.
 */
import { useCallback, useEffect, useRef, useState } from 'react'
import { Alert, Button, Card, Input, MessagePlugin, Space, Tabs, Tag } from 'tdesign-react'
import { api, ApiError, type ConfigEntry, enc, type Issue, parseJson, pretty, type Validation } from '../api'
import { IssueList, JsonEditor, showError } from '../components'

/** What a missing document starts from in its editor. */
const STARTERS: Record<string, unknown> = {
  admins: { openids: [] },
  templates: { ids: {} },
  funnels: { funnels: [] },
  onboarding: { steps: [] },
  incentives: {},
}

function ConfigEditor({ entry, onSaved }: { entry: ConfigEntry; onSaved: () => void }) {
  const initial = entry.doc ?? { _id: entry.id, ...(STARTERS[entry.id] as object | undefined) }
  const [text, setText] = useState(() => pretty(initial))
  const [issues, setIssues] = useState<Issue[]>(entry.issues)
  const [checking, setChecking] = useState(false)
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)

  const check = useCallback(
    async (value: string): Promise<Issue[]> => {
      const parsed = parseJson(value)
      if (parsed.issue) return [parsed.issue]
      const result = await api<Validation>('POST', `config/${enc(entry.collection)}/validate`, { doc: { _id: entry.id, ...(parsed.value as object) } })
      return result.issues
    },
    [entry.collection, entry.id],
  )

  const onChange = (value: string) => {
    setText(value)
    clearTimeout(timer.current)
    setChecking(true)
    timer.current = setTimeout(() => {
      check(value).then(
        (found) => {
          setIssues(found)
          setChecking(false)
        },
        (err: unknown) => {
          setChecking(false)
          showError(err)
        },
      )
    }, 300)
  }

  const save = async () => {
    const found = await check(text)
    setIssues(found)
    if (found.length > 0) return
    try {
      await api('PUT', `documents/${enc(entry.collection)}/${enc(entry.id)}`, { doc: { _id: entry.id, ...(parseJson(text).value as object) } })
      void MessagePlugin.success(`已保存 ${entry.collection}/${entry.id}：${entry.pickup}`, 4000)
      onSaved()
    } catch (err) {
      if (err instanceof ApiError && err.issues.length > 0) setIssues(err.issues)
      else showError(err)
    }
  }

  return (
    <Card
      className="section"
      bordered={false}
      title={<span className="mono">{`${entry.collection}/${entry.id}`}</span>}
      actions={
        <Space>
          {entry.stored ? <Tag variant="light">已保存的文档</Tag> : <Tag variant="light" theme="warning">未创建：函数使用默认值</Tag>}
          {issues.length > 0 ? <Tag theme="danger" variant="light">{issues.length} 个问题</Tag> : <Tag theme="success" variant="light">{checking ? '检查中' : '通过校验'}</Tag>}
        </Space>
      }
    >
      <p className="muted">校验：{entry.readBy}</p>
      <p className="muted">生效：{entry.pickup}</p>
      <div data-testid={`editor-${entry.collection}-${entry.id}`}>
        <JsonEditor value={text} onChange={onChange} rows={8} />
        <IssueList issues={issues} />
        <Button onClick={() => void save()} disabled={issues.length > 0 || checking} data-testid="save">
          保存
        </Button>
      </div>
    </Card>
  )
}

export function ConfigPage() {
  const [entries, setEntries] = useState<{ appConfig: ConfigEntry[]; experiments: ConfigEntry[] } | null>(null)
  const [newKey, setNewKey] = useState('')
  const [tab, setTab] = useState<string>(() => new URLSearchParams(location.hash.split('?')[1] ?? '').get('doc') ?? 'admins')
  const load = useCallback(() => api<{ appConfig: ConfigEntry[]; experiments: ConfigEntry[] }>('GET', 'config').then(setEntries, showError), [])
  useEffect(() => {
    void load()
  }, [load])
  if (!entries) return null
  const experimentStarter: ConfigEntry | null = newKey
    ? { collection: 'experiments', id: newKey, title: '', readBy: entries.experiments[0]?.readBy ?? 'experiments', pickup: entries.experiments[0]?.pickup ?? '', stored: false, doc: { _id: newKey, kind: 'flag', type: 'boolean', enabled: false, defaultValue: false, rules: [] }, issues: [] }
    : null
  return (
    <Tabs value={tab} onChange={(value) => setTab(String(value))}>
      {entries.appConfig.map((entry) => (
        <Tabs.TabPanel key={entry.id} value={entry.id} label={entry.title} destroyOnHide>
          <div style={{ paddingTop: 16 }}>
            <ConfigEditor key={`${entry.id}:${String(entry.stored)}`} entry={entry} onSaved={() => void load()} />
          </div>
        </Tabs.TabPanel>
      ))}
      <Tabs.TabPanel value="experiments" label="实验与开关" destroyOnHide>
        <div style={{ paddingTop: 16 }}>
          <Alert
            className="section"
            message="这里直接写 experiments 集合，和在云开发控制台编辑文档一样；管理页的“保存”（experiments.save）还会记录 startedAt / stoppedAt，并拒绝修改运行中实验的分组。"
          />
          {entries.experiments.map((entry) => (
            <ConfigEditor key={entry.id} entry={entry} onSaved={() => void load()} />
          ))}
          <Card bordered={false} title="新增开关或实验">
            <Input label="key" value={newKey} onChange={(v) => setNewKey(String(v).trim())} placeholder="home_new_banner" />
            {experimentStarter && !entries.experiments.some((e) => e.id === newKey) && (
              <div style={{ marginTop: 12 }}>
                <ConfigEditor key={`new:${newKey}`} entry={experimentStarter} onSaved={() => { setNewKey(''); void load() }} />
              </div>
            )}
          </Card>
        </div>
      </Tabs.TabPanel>
    </Tabs>
  )
}
