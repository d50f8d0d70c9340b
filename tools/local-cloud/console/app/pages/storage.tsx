/** Files by folder, with previews of images (QR codes, feedback screenshots, posters), download and delete. */
import { useCallback, useEffect, useState } from 'react'
import { Button, Card, Popconfirm, Space, Table, Tag } from 'tdesign-react'
import { api, enc, formatTime, type StoredFile } from '../api'
import { showError } from '../components'

function size(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

export function StoragePage() {
  const [files, setFiles] = useState<StoredFile[]>([])
  const [folder, setFolder] = useState<string | null>(null)
  const load = useCallback(() => api<{ files: StoredFile[] }>('GET', 'storage').then((r) => setFiles(r.files), showError), [])
  useEffect(() => {
    void load()
  }, [load])
  const folders = [...new Set(files.map((f) => f.folder.split('/')[0] ?? ''))]
  const shown = folder === null ? files : files.filter((f) => f.folder === folder || f.folder.startsWith(`${folder}/`))
  const remove = async (file: StoredFile) => {
    try {
      await api('DELETE', `storage?path=${enc(file.path)}`)
      await load()
    } catch (err) {
      showError(err)
    }
  }
  return (
    <Card bordered={false}>
      <Space className="section" breakLine>
        <Tag theme={folder === null ? 'primary' : 'default'} variant="light" onClick={() => setFolder(null)} style={{ cursor: 'pointer' }}>全部 {files.length}</Tag>
        {folders.map((name) => (
          <Tag key={name} theme={folder === name ? 'primary' : 'default'} variant="light" onClick={() => setFolder(name)} style={{ cursor: 'pointer' }}>
            {name || '(根目录)'}
          </Tag>
        ))}
      </Space>
      <Table
        rowKey="path"
        size="small"
        data={shown}
        empty="存储里还没有文件"
        columns={[
          { colKey: 'preview', title: '预览', width: 72, cell: ({ row }) => (row.contentType.startsWith('image/') ? <a href={row.url} target="_blank" rel="noreferrer"><img className="thumb" src={row.url} alt={row.path} /></a> : <span className="muted">{row.contentType}</span>) },
          { colKey: 'path', title: '路径', cell: ({ row }) => <span className="mono">{row.path}</span> },
          { colKey: 'size', title: '大小', width: 90, cell: ({ row }) => size(row.size) },
          { colKey: 'modifiedAt', title: '修改时间', width: 170, cell: ({ row }) => formatTime(row.modifiedAt) },
          {
            colKey: 'op',
            title: '操作',
            width: 140,
            cell: ({ row }) => (
              <Space>
                <a className="t-link t-link--theme-primary" href={row.url} download={row.path.split('/').pop()}>下载</a>
                <Popconfirm content={`删除 ${row.path}？`} onConfirm={() => void remove(row)}>
                  <Button variant="text" theme="danger" size="small">删除</Button>
                </Popconfirm>
              </Space>
            ),
          },
        ]}
      />
    </Card>
  )
}
