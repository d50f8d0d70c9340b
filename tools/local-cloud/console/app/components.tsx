/** Pieces several pages share: the JSON editor with its typed issues, and error toasts. */
import { MessagePlugin, Textarea } from 'tdesign-react'
import { ApiError, type Issue } from './api'

export function IssueList({ issues }: { issues: Issue[] }) {
  if (issues.length === 0) return null
  return (
    <ul className="issues" data-testid="issues">
      {issues.map((issue, i) => (
        <li key={i}>
          <span className="mono">{issue.path || '(文档)'}</span>：{issue.message}
        </li>
      ))}
    </ul>
  )
}

export function JsonEditor({ value, onChange, rows = 14 }: { value: string; onChange: (text: string) => void; rows?: number }) {
  return <Textarea className="editor" value={value} onChange={(text) => onChange(String(text))} autosize={{ minRows: rows, maxRows: 28 }} />
}

export function showError(err: unknown): void {
  void MessagePlugin.error(err instanceof ApiError ? `${err.message}` : String(err), 5000)
}
