/**
 * Geo queries the SDK emits (`_.geoNear`, `_.geoWithin`, `_.geoIntersects`, aggregate `geoNear`),
 * which mingo does not implement. Geometry predicates come from turf; distances are great-circle
 * meters on MongoDB's earth radius, as `$nearSphere` uses them.
 */
import booleanIntersects from '@turf/boolean-intersects'
import booleanWithin from '@turf/boolean-within'
import turfDistance from '@turf/distance'
import type { Doc } from './codec'
import { DbError } from './errors'

type Geometry = { type: string; coordinates: unknown }
type Position = [number, number]

/** MongoDB's radius for spherical geometry, in meters. */
const EARTH_RADIUS_M = 6378100

const GEO_TYPES = new Set(['Point', 'LineString', 'Polygon', 'MultiPoint', 'MultiLineString', 'MultiPolygon'])

function isGeometry(value: unknown): value is Geometry {
  return (
    typeof value === 'object' && value !== null &&
    GEO_TYPES.has((value as Geometry).type) && Array.isArray((value as Geometry).coordinates)
  )
}

function valueAt(doc: unknown, path: string): unknown {
  let cur = doc
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

function pointOf(value: unknown): Position | null {
  if (isGeometry(value) && value.type === 'Point') {
    const [lng, lat] = value.coordinates as number[]
    if (typeof lng === 'number' && typeof lat === 'number') return [lng, lat]
  }
  return null
}

/** Great-circle distance in meters between two [lng, lat] points. */
export function distanceMeters(a: Position, b: Position): number {
  return turfDistance(a, b, { units: 'radians' }) * EARTH_RADIUS_M
}

interface NearSpec {
  $geometry?: unknown
  $maxDistance?: number
  $minDistance?: number
}

function nearCenter(spec: NearSpec): Position {
  const center = pointOf(spec.$geometry)
  if (!center) throw new DbError('DATABASE_INVALID_OPERRATOR', 'geoNear needs a Point geometry')
  return center
}

const $nearSphere = (selector: string, value: unknown) => {
  const spec = value as NearSpec
  const center = nearCenter(spec)
  return (doc: Doc) => {
    const point = pointOf(valueAt(doc, selector))
    if (!point) return false
    const d = distanceMeters(center, point)
    return (spec.$maxDistance === undefined || d <= spec.$maxDistance) && (spec.$minDistance === undefined || d >= spec.$minDistance)
  }
}

const $geoWithin = (selector: string, value: unknown) => {
  const spec = value as { $geometry?: unknown; $centerSphere?: [Position, number] }
  if (spec.$centerSphere) {
    const [center, radians] = spec.$centerSphere
    return (doc: Doc) => {
      const point = pointOf(valueAt(doc, selector))
      return point !== null && distanceMeters(center, point) <= radians * EARTH_RADIUS_M
    }
  }
  const area = spec.$geometry
  if (!isGeometry(area) || (area.type !== 'Polygon' && area.type !== 'MultiPolygon')) {
    throw new DbError('DATABASE_INVALID_OPERRATOR', 'geoWithin needs a Polygon or MultiPolygon, or centerSphere')
  }
  return (doc: Doc) => {
    const shape = valueAt(doc, selector)
    return isGeometry(shape) && booleanWithin(shape as never, area as never)
  }
}

const $geoIntersects = (selector: string, value: unknown) => {
  const other = (value as { $geometry?: unknown }).$geometry
  if (!isGeometry(other)) throw new DbError('DATABASE_INVALID_OPERRATOR', 'geoIntersects needs a geometry')
  return (doc: Doc) => {
    const shape = valueAt(doc, selector)
    return isGeometry(shape) && booleanIntersects(shape as never, other as never)
  }
}

/** The geo query operators, for the store's mingo context (operators.ts). */
export const geoQueryOperators = { $nearSphere, $geoWithin, $geoIntersects }

/** The field a query sorts by distance (`field: { $nearSphere }` at the top level), if any. */
export function nearSortOf(query: Doc): { field: string; center: Position } | null {
  for (const [field, cond] of Object.entries(query)) {
    if (typeof cond === 'object' && cond !== null && '$nearSphere' in cond) {
      return { field, center: nearCenter((cond as { $nearSphere: NearSpec }).$nearSphere) }
    }
  }
  return null
}

export function sortByDistance(docs: Doc[], near: { field: string; center: Position }): Doc[] {
  const d = (doc: Doc) => {
    const p = pointOf(valueAt(doc, near.field))
    return p ? distanceMeters(near.center, p) : Infinity
  }
  return docs.map((doc) => ({ doc, d: d(doc) })).sort((a, b) => a.d - b.d).map((x) => x.doc)
}

export interface GeoNearStage {
  near: unknown
  distanceField: string
  spherical?: boolean
  maxDistance?: number
  minDistance?: number
  query?: Doc
  key?: string
  distanceMultiplier?: number
  includeLocs?: string
}

/**
 * The centre of an aggregate `$geoNear`: a GeoJSON Point, or `{ longitude, latitude }` as older
 * SDKs send `near` (a `db.Geo.Point`'s own fields, not its GeoJSON), or a legacy `[lng, lat]` pair.
 */
function nearPoint(near: unknown): Position | null {
  const point = pointOf(near)
  if (point) return point
  if (Array.isArray(near) && near.length === 2 && near.every((n) => typeof n === 'number')) return near as Position
  const { longitude, latitude } = (typeof near === 'object' && near !== null ? near : {}) as { longitude?: unknown; latitude?: unknown }
  return typeof longitude === 'number' && typeof latitude === 'number' ? [longitude, latitude] : null
}

/** The aggregate `$geoNear` stage: documents nearest first, with their distance in `distanceField`. */
export function geoNearStage(docs: Doc[], stage: GeoNearStage, matches: (doc: Doc) => boolean): Doc[] {
  const center = nearPoint(stage.near)
  if (!center || typeof stage.distanceField !== 'string') {
    throw new DbError('DATABASE_INVALID_OPERRATOR', '$geoNear needs near (a Point) and distanceField')
  }
  const out: { doc: Doc; d: number }[] = []
  for (const doc of docs) {
    if (!matches(doc)) continue
    let loc: Position | null = null
    let locValue: unknown
    if (stage.key) {
      locValue = valueAt(doc, stage.key)
      loc = pointOf(locValue)
    } else {
      for (const value of Object.values(doc)) {
        loc = pointOf(value)
        if (loc) {
          locValue = value
          break
        }
      }
    }
    if (!loc) continue
    const d = distanceMeters(center, loc)
    if (stage.maxDistance !== undefined && d > stage.maxDistance) continue
    if (stage.minDistance !== undefined && d < stage.minDistance) continue
    const result: Doc = { ...doc, [stage.distanceField]: d * (stage.distanceMultiplier ?? 1) }
    if (stage.includeLocs) result[stage.includeLocs] = locValue
    out.push({ doc: result, d })
  }
  return out.sort((a, b) => a.d - b.d).map((x) => x.doc)
}
