/**
 * Helpers for the experiment tests: an admin in `app_config`, the config the real function sends,
 * development openids that an experiment assigns to a given variant, and experiment documents.
 */
import type { ClientConfig, ExperimentConfig } from '../../../cloudfunctions/experiments/api'
import { assignVariant } from '../../../miniprogram/core/bucketing'
import { adminRequest, callFunction } from './net'

/** Makes `openid` the one admin (the `admins` document of `app_config`). */
export async function addAdmin(cloudUrl: string, openid: string): Promise<void> {
  const reply = await adminRequest(cloudUrl, {
    action: 'database.insertDocument',
    collectionName: 'app_config',
    data: [JSON.stringify({ _id: 'admins', openids: [openid] })],
  })
  if (reply.body?.data?.insertedIds?.[0] !== 'admins') throw new Error(`admins not stored: ${JSON.stringify(reply.body)}`)
}

/** The config `experiments.config` answers `openid`. */
export async function configFor(cloudUrl: string, openid: string): Promise<ClientConfig> {
  const result = await callFunction(cloudUrl, 'experiments', 'config', {}, openid)
  if (!result.ok) throw new Error(`config: ${JSON.stringify(result.error)}`)
  return result.data as ClientConfig
}

/** Development openids (local mode: `dev-` + 12 characters) that `experiment` assigns to `variant`. */
export function openidsIn(experiment: ExperimentConfig, variant: string, count: number, salt: string): string[] {
  const found: string[] = []
  for (let i = 0; found.length < count; i++) {
    const id = `dev-${salt}${String(i).padStart(12 - salt.length, '0')}`
    if (assignVariant(experiment, id).variant === variant) found.push(id)
  }
  return found
}

/** A running 50/50 experiment document (control, B) with content_open as its goal, for `save`. */
export function experimentDoc(key: string, name: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    _id: key,
    kind: 'experiment',
    name,
    hypothesis: 'If the copy is clearer, more people open a guide.',
    variants: [
      { key: 'control', name: '对照', weight: 0.5 },
      { key: 'b', name: 'B', weight: 0.5 },
    ],
    goal: { event: 'content_open', withinDays: 7 },
    status: 'running',
    ...over,
  }
}

/** Saves a flag or experiment document as `admin`; throws with the function's error otherwise. */
export async function save(cloudUrl: string, admin: string, doc: Record<string, unknown>): Promise<void> {
  const result = await callFunction(cloudUrl, 'experiments', 'save', { doc }, admin)
  if (!result.ok) throw new Error(`save ${String(doc._id)}: ${JSON.stringify(result.error)}`)
}
