/**
 * The outbox of subscription messages (`_outbox`: what subscribeMessage.send would have delivered),
 * each drawn the way WeChat shows a service notification: the template's title, its fields with
 * their labels, and the page it opens. Opening one shows its message log entry and the user's quota.
 */
import { useEffect, useState } from 'react'
import { Card, Dialog, Tag } from 'tdesign-react'
import { api, formatTime, type Message, pretty } from '../api'
import { showError } from '../components'

export function MessagesPage() {
  const [messages, setMessages] = useState<Message[]>([])
  const [open, setOpen] = useState<Message | null>(null)
  useEffect(() => {
    api<{ messages: Message[] }>('GET', 'messages').then((r) => setMessages(r.messages), showError)
  }, [])
  return (
    <>
      <p className="muted">本地云不投递订阅消息，而是记在 _outbox 里；这里按微信“服务通知”的样子显示。</p>
      {messages.length === 0 && <Card bordered={false}>还没有发出的订阅消息</Card>}
      <div className="notices">
        {messages.map((m) => (
          <div key={m.id} className="notice" data-testid="notice" onClick={() => setOpen(m)}>
            <div className="notice-head">
              <span>服务通知</span>
              <span>{formatTime(m.sentAt)}</span>
            </div>
            <div className="notice-title">{m.title ?? `模板 ${m.templateId}`}</div>
            {m.fields.map((f) => (
              <div key={f.key} className="notice-field">
                <span className="label">{f.label}</span>
                <span>{f.value}</span>
              </div>
            ))}
            <div className="notice-foot">
              <span>进入小程序查看</span>
              <span className="muted">›</span>
            </div>
          </div>
        ))}
      </div>
      <Dialog visible={open !== null} header={open?.title ?? '订阅消息'} width={640} footer={false} onClose={() => setOpen(null)}>
        {open && (
          <div data-testid="message-detail">
            <p>
              接收者 <span className="mono">{open.touser}</span> · 模板 <span className="mono">{open.template ?? '-'}</span>（{open.templateId}）· {open.miniprogramState}
            </p>
            <p>
              打开页面 <span className="mono">{open.fullPage}</span>
            </p>
            <p>
              剩余次数 {open.quota ? <Tag variant="light">{open.quota.quota}</Tag> : '-'}
            </p>
            <p className="muted">发送记录（message_log）</p>
            <pre className="mono">{open.log ? pretty(open.log) : '没有对应的发送记录'}</pre>
          </div>
        )}
      </Dialog>
    </>
  )
}
