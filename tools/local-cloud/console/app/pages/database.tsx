/**
 * Every collection with its count and indexes; a query (where, order) over one; view, add, edit and
 * delete documents as EJSON (`{"$date": "..."}` for dates). Writes go through the local cloud's
 * store, so unique indexes and the config schemas apply as they do to the SDK.
 */
import { useCallback, useEffect, useState } from 'react'
import { Alert, Button, Card, Dialog, Input, Popconfirm, Space, Table, Tag } from 'tdesign-react'
import { api, ApiError, type CollectionInfo, enc, type Issue, type Json, parseJson, pretty, type QueryResult } from '../api'
import { IssueList, JsonEditor, showError } from '../components'

interface Editing {
  id: string | null
  text: string
  issues: Issue[]
  error: string | null
}

export function DatabasePage() {
  const [collections, setCollections] = useState<CollectionInfo[]>([])
  const [current, setCurrent] = useState<string>(() => new URLSearchParams(location.hash.split('?')[1] ?? '').get('c') ?? 'users')
  const [where, setWhere] = useState('{}')
  const [order, setOrder] = useState('')
  const [result, setResult] = useState<QueryResult | null>(null)
  const [queryIssue, setQueryIssue] = useState<string | null>(null)
  const [editing, setEditing] = useState<Editing | null>(null)

  const loadCollections = useCallback(() => api<{ collections: CollectionInfo[] }>('GET', 'collections').then((r) => setCollections(r.collections), showError), [])
  const runQuery = useCallback(
    async (name = current) => {
      const w = parseJson(where || '{}')
      const o = order.trim() ? parseJson(order) : { value: undefined, issue: null }
      if (w.issue || o.issue) {
        setQueryIssue(`${w.issue ? 'where' : 'order'} ${(w.issue ?? o.issue)!.message}`)
        return
      }
      try {
        setResult(await api<QueryResult>('POST', `collections/${enc(name)}/query`, { where: w.value, order: o.value, limit: 50 }))
        setQueryIssue(null)
      } catch (err) {
        setQueryIssue(err instanceof ApiError ? err.message : String(err))
      }
    },
    [current, where, order],
  )

  useEffect(() => {
    void loadCollections()
  }, [loadCollections])
  useEffect(() => {
    void runQuery(current)
    // A new collection starts a new query; typing in where/order waits for 查询.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [current])

  const info = collections.find((c) => c.name === current)

  const save = async () => {
    if (!editing) return
    const parsed = parseJson(editing.text)
    if (parsed.issue) return setEditing({ ...editing, issues: [parsed.issue], error: null })
    try {
      if (editing.id === null) await api('POST', `documents/${enc(current)}`, { doc: parsed.value })
      else await api('PUT', `documents/${enc(current)}/${enc(editing.id)}`, { doc: parsed.value })
      setEditing(null)
      await Promise.all([runQuery(), loadCollections()])
    } catch (err) {
      if (err instanceof ApiError) setEditing({ ...editing, issues: err.issues, error: err.message })
      else showError(err)
    }
  }

  const remove = async (id: string) => {
    try {
      await api('DELETE', `documents/${enc(current)}/${enc(id)}`)
      await Promise.all([runQuery(), loadCollections()])
    } catch (err) {
      showError(err)
    }
  }

  return (
    <div className="row">
      <Card bordered={false} style={{ width: 260, flex: 'none' }}>
        <Table
          rowKey="name"
          size="small"
          maxHeight={640}
          data={collections}
          onRowClick={({ row }) => {
            setCurrent(row.name)
            history.replaceState(null, '', `#/database?c=${enc(row.name)}`)
          }}
          rowClassName={({ row }) => (row.name === current ? 't-table__row--active' : '')}
          columns={[
            { colKey: 'name', title: '集合', cell: ({ row }) => <span className="mono" data-collection={row.name}>{row.name}</span> },
            { colKey: 'count', title: '文档', align: 'right', width: 70 },
          ]}
        />
      </Card>
      <div className="grow">
        <Card className="section" bordered={false} title={<span className="mono">{current}</span>} subtitle={info?.description ?? undefined}>
          <Space direction="vertical" style={{ width: '100%' }}>
            <div>
              {info?.indexes.map((i) => (
                <Tag key={i.name} variant="light" theme={i.unique ? 'warning' : 'default'} style={{ marginRight: 6 }}>
                  {i.name}
                  {i.unique ? '（唯一）' : ''}: {Object.entries(i.keys).map(([k, d]) => `${k} ${d}`).join(', ')}
                </Tag>
              ))}
            </div>
            <div className="row">
              <Input className="grow mono" label="where" value={where} onChange={(v) => setWhere(String(v))} placeholder='{"openid": "o-..."}' onEnter={() => void runQuery()} data-testid="where" />
              <Input style={{ width: 220 }} label="order" value={order} onChange={(v) => setOrder(String(v))} placeholder='{"createdAt": -1}' onEnter={() => void runQuery()} />
              <Button onClick={() => void runQuery()} data-testid="query">查询</Button>
              <Button theme="default" onClick={() => setEditing({ id: null, text: '{\n  \n}', issues: [], error: null })}>新增文档</Button>
            </div>
            {queryIssue && <Alert theme="error" message={queryIssue} />}
          </Space>
        </Card>
        <Card bordered={false}>
          <p className="muted">共 {result?.total ?? 0} 条{result && result.total > result.docs.length ? `，显示前 ${result.docs.length} 条` : ''}。日期显示为 {'{"$date": "…"}'}，编辑时保持这种写法。</p>
          <Table
            rowKey="_id"
            size="small"
            data={(result?.docs ?? []) as (Json & { _id: string })[]}
            columns={[
              { colKey: '_id', title: '_id', width: 260, cell: ({ row }) => <span className="mono">{String(row._id)}</span> },
              { colKey: 'doc', title: '内容', cell: ({ row }) => { const { _id, ...rest } = row; return <div className="json-cell mono">{JSON.stringify(rest)}</div> } },
              {
                colKey: 'op',
                title: '操作',
                width: 140,
                cell: ({ row }) => (
                  <Space>
                    <Button variant="text" theme="primary" size="small" data-testid={`edit-${String(row._id)}`} onClick={() => setEditing({ id: String(row._id), text: pretty(row), issues: [], error: null })}>编辑</Button>
                    <Popconfirm content="删除这条文档？" onConfirm={() => void remove(String(row._id))}>
                      <Button variant="text" theme="danger" size="small">删除</Button>
                    </Popconfirm>
                  </Space>
                ),
              },
            ]}
          />
        </Card>
      </div>
      <Dialog
        visible={editing !== null}
        header={editing?.id === null ? `新增文档到 ${current}` : `编辑 ${current} / ${editing?.id ?? ''}`}
        width={720}
        confirmBtn="保存"
        cancelBtn="取消"
        onConfirm={() => void save()}
        onClose={() => setEditing(null)}
      >
        {editing && (
          <>
            <JsonEditor value={editing.text} onChange={(text) => setEditing({ ...editing, text })} />
            {editing.error && <Alert theme="error" message={editing.error} style={{ marginTop: 8 }} />}
            <IssueList issues={editing.issues} />
          </>
        )}
      </Dialog>
    </div>
  )
}
