/** Functions (timeouts, timers, workers) and the recent invocations with what each cost, updated every 2 s. */
import { useEffect, useState } from 'react'
import { Card, Table, Tag } from 'tdesign-react'
import { api, formatTime, type Invocation, type Overview } from '../api'

export function OverviewPage() {
  const [overview, setOverview] = useState<Overview | null>(null)
  const [invocations, setInvocations] = useState<Invocation[]>([])
  useEffect(() => {
    let stopped = false
    const load = () => {
      void Promise.all([api<Overview>('GET', 'overview'), api<{ invocations: Invocation[] }>('GET', 'invocations?limit=50')]).then(([o, i]) => {
        if (stopped) return
        setOverview(o)
        setInvocations(i.invocations)
      })
    }
    load()
    const timer = setInterval(load, 2000)
    return () => {
      stopped = true
      clearInterval(timer)
    }
  }, [])
  return (
    <>
      <Card className="section" title="云函数" bordered={false}>
        {overview && (
          <p className="muted">
            环境 {overview.env} · AppID {overview.appid} · 数据目录 {overview.dataDir} · 定时触发器{overview.timersRunning ? '按计划运行' : '未按计划运行（--no-timers），可在“定时触发器”页手动运行'}
          </p>
        )}
        <Table
          rowKey="name"
          size="small"
          data={overview?.functions ?? []}
          columns={[
            { colKey: 'name', title: '函数' },
            { colKey: 'timeout', title: '超时', cell: ({ row }) => `${row.timeoutMs / 1000} s` },
            { colKey: 'memory', title: '内存', cell: ({ row }) => `${row.memoryMb} MB` },
            { colKey: 'workers', title: '实例', cell: ({ row }) => `${row.workers.running} / ${row.workers.max}` },
            { colKey: 'triggers', title: '定时触发器', cell: ({ row }) => row.triggers.map((t) => t.name).join('、') || '-' },
            { colKey: 'calls', title: '调用', cell: ({ row }) => row.stats?.invocations ?? 0 },
            { colKey: 'errors', title: '错误', cell: ({ row }) => (row.stats?.errors ? <Tag theme="danger" variant="light">{row.stats.errors}</Tag> : 0) },
            { colKey: 'p50', title: 'p50', cell: ({ row }) => (row.stats ? `${row.stats.p50Ms} ms` : '-') },
            { colKey: 'db', title: '数据库往返/次', cell: ({ row }) => row.stats?.dbPerInvocation ?? '-' },
          ]}
        />
      </Card>
      <Card title="最近调用" bordered={false}>
        <Table
          rowKey="requestId"
          size="small"
          data={invocations}
          rowClassName={({ row }) => (row.outcome !== 'ok' && row.outcome !== 'running' ? 'error-row' : '')}
          empty="还没有调用：在小程序或测试里调用一个云函数"
          columns={[
            { colKey: 'startedAt', title: '时间', width: 170, cell: ({ row }) => formatTime(row.startedAt) },
            { colKey: 'requestId', title: '请求', width: 90, cell: ({ row }) => <span className="mono">{row.requestId.slice(0, 8)}</span> },
            { colKey: 'action', title: '函数.动作', cell: ({ row }) => <span className="mono">{`${row.fn}.${row.action ?? '-'}`}</span> },
            { colKey: 'caller', title: '调用方', cell: ({ row }) => <span className="mono">{row.openid ?? row.source}</span> },
            { colKey: 'durationMs', title: '耗时', cell: ({ row }) => `${row.durationMs ?? '-'} ms${row.coldStart ? '（冷启动）' : ''}` },
            { colKey: 'dbTotal', title: '数据库往返' },
            { colKey: 'docsRead', title: '读取文档' },
            {
              colKey: 'outcome',
              title: '结果',
              cell: ({ row }) => <Tag theme={row.outcome === 'ok' ? 'success' : row.outcome === 'running' ? 'default' : 'danger'} variant="light" data-testid="outcome">{row.outcome}</Tag>,
            },
          ]}
        />
      </Card>
    </>
  )
}
