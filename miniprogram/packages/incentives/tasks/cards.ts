/** Tasks as the task center shows them: a progress bar and count each, new-user tasks in their own section first. */
import type { TaskView } from '../../../../cloudfunctions/incentives/api'

export interface TaskCard extends TaskView {
  /** Width of the progress bar, in percent. */
  percent: number
  progressText: string
}

export function taskCard(task: TaskView): TaskCard {
  const done = Math.min(task.progress, task.target)
  return { ...task, percent: task.target > 0 ? Math.round((done / task.target) * 100) : 0, progressText: `${done}/${task.target}` }
}

export function sections(items: TaskView[]) {
  const cards = items.map(taskCard)
  return [
    { key: 'new', title: '新手任务', items: cards.filter((t) => t.newUser) },
    { key: 'more', title: '日常任务', items: cards.filter((t) => !t.newUser) },
  ].filter((s) => s.items.length > 0)
}
