/** Timer triggers: cron, next run, "run now", and the last run's result. */
import { useCallback, useEffect, useState } from 'react'
import { Button, Card, Table, Tag, Tooltip } from 'tdesign-react'
import { api, enc, formatTime, type TimerInfo } from '../api'
import { showError } from '../components'

export function TimersPage() {
  const [timers, setTimers] = useState<TimerInfo[]>([])
  const [running, setRunning] = useState<boolean | null>(null)
  const [busy, setBusy] = useState<string | null>(null)
  const load = useCallback(
    () =>
      api<{ running: boolean; timers: TimerInfo[] }>('GET', 'timers').then((r) => {
        setTimers(r.timers)
        setRunning(r.running)
      }, showError),
    [],
  )
  useEffect(() => {
    void load()
  }, [load])
  const run = async (t: TimerInfo) => {
    setBusy(`${t.fn}/${t.name}`)
    try {
      await api('POST', `timers/${enc(t.fn)}/${enc(t.name)}`)
      await load()
    } catch (err) {
      showError(err)
    } finally {
      setBusy(null)
    }
  }
  return (
    <Card bordered={false}>
      <p className="muted">{running === false ? '本地云以 --no-timers 启动：触发器不按计划运行，可在这里手动运行。' : '触发器按 cron（UTC+8）运行；“立即运行”和计划触发一样，以 wx_trigger 身份调用。'}</p>
      <Table
        rowKey="name"
        size="small"
        data={timers.map((t) => ({ ...t, key: `${t.fn}/${t.name}` }))}
        columns={[
          { colKey: 'fn', title: '函数' },
          { colKey: 'name', title: '触发器', cell: ({ row }) => <span className="mono">{row.name}</span> },
          { colKey: 'cron', title: 'cron', cell: ({ row }) => <span className="mono">{row.cron}</span> },
          { colKey: 'nextRun', title: '下次运行', cell: ({ row }) => formatTime(row.nextRun) },
          {
            colKey: 'last',
            title: '上次结果',
            cell: ({ row }) =>
              row.last ? (
                <Tooltip content={<pre className="mono" style={{ maxWidth: 480, whiteSpace: 'pre-wrap' }}>{row.last.result}</pre>}>
                  <span data-testid={`last-${row.fn}-${row.name}`}>
                    <Tag theme={row.last.outcome === 'ok' ? 'success' : 'danger'} variant="light">{row.last.outcome}</Tag> {formatTime(row.last.at)} · {row.last.durationMs} ms ·{' '}
                    <span className="mono">{row.last.requestId.slice(0, 8)}</span>
                  </span>
                </Tooltip>
              ) : (
                <span className="muted">还没有运行</span>
              ),
          },
          {
            colKey: 'op',
            title: '操作',
            width: 110,
            cell: ({ row }) => (
              <Button size="small" loading={busy === `${row.fn}/${row.name}`} data-testid={`run-${row.fn}-${row.name}`} onClick={() => void run(row)}>
                立即运行
              </Button>
            ),
          },
        ]}
      />
    </Card>
  )
}
