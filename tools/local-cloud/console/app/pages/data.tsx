/** Export the whole local cloud (database + storage) to a folder; how to start from one. */
import { useState } from 'react'
import { Alert, Button, Card, Input, Space } from 'tdesign-react'
import { api } from '../api'
import { showError } from '../components'

interface Exported {
  dir: string
  collections: number
  documents: number
  files: number
}

export function DataPage() {
  const [dir, setDir] = useState('.cloud-export')
  const [done, setDone] = useState<Exported | null>(null)
  const [busy, setBusy] = useState(false)
  const run = async () => {
    setBusy(true)
    try {
      setDone(await api<Exported>('POST', 'export', { dir }))
    } catch (err) {
      showError(err)
    } finally {
      setBusy(false)
    }
  }
  return (
    <>
      <Card className="section" bordered={false} title="导出">
        <p className="muted">把数据库（每个集合一个 .ndjson 文件，日期保留为 EJSON）和存储的文件写到一个文件夹，团队可以共享这份数据，测试也可以从它开始。相对路径从项目根目录算起。</p>
        <Space>
          <Input label="文件夹" value={dir} onChange={(v) => setDir(String(v))} style={{ width: 360 }} data-testid="export-dir" />
          <Button loading={busy} onClick={() => void run()} data-testid="export">导出</Button>
        </Space>
        {done && <Alert theme="success" style={{ marginTop: 12 }} message={`已导出 ${done.collections} 个集合、${done.documents} 条文档、${done.files} 个文件到 ${done.dir}`} data-testid="exported" />}
      </Card>
      <Card bordered={false} title="导入">
        <p>导入在启动时进行，会替换导出里的集合和全部存储文件：</p>
        <pre className="mono">npm start -- --import .cloud-export</pre>
        <p>退出（Ctrl-C）时自动导出：</p>
        <pre className="mono">npm start -- --import .cloud-export --export-on-exit .cloud-export</pre>
      </Card>
    </>
  )
}
