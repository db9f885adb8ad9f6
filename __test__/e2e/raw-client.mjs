// A tiny raw client of the OpenClaw gateway WebSocket protocol (v4), for e2e tests and probes.
// Runs under Node 20 (uses the `ws` package from the cached openclaw install) and under Node 24
// (global WebSocket). It records every frame so tests can assert on the real wire shapes.
//
//   const c = await RawClient.open(gw.url)
//   const hello = await c.handshake({ token })          // res payload of `connect` (hello-ok)
//   const ack = await c.request('chat.send', { sessionKey, message, idempotencyKey })
//   await c.waitEvent((f) => f.event === 'chat' && f.payload.state === 'final')
//   c.close()

import { createRequire } from 'node:module'
import { join } from 'node:path'
import { layout } from '../../scripts/setup-openclaw.mjs'

let WebSocketImpl = globalThis.WebSocket
function webSocketClass() {
  if (WebSocketImpl) return WebSocketImpl
  // Node 20 has no global WebSocket: borrow `ws` from the openclaw install (a dependency of it).
  const req = createRequire(join(layout().openclawDir, 'package.json'))
  WebSocketImpl = req('ws')
  return WebSocketImpl
}

/** The client identity that keeps its scopes on loopback without a device identity. */
export const BACKEND_CLIENT = { id: 'gateway-client', version: '0.0.0-e2e', platform: 'linux', mode: 'backend' }

/** One open WebSocket to the gateway, with every received frame kept in `frames`. */
export class RawClient {
  constructor(ws) {
    this.ws = ws
    /** Every frame received, parsed, in order. */
    this.frames = []
    /** `{code, reason}` once the socket closed, else null. */
    this.closed = null
    this.nextId = 1
    this.listeners = new Set()
    this.closeWaiters = []
    ws.addEventListener('message', (ev) => {
      const text = typeof ev.data === 'string' ? ev.data : Buffer.from(ev.data).toString('utf8')
      let frame
      try {
        frame = JSON.parse(text)
      } catch {
        frame = { type: 'unparsed', text }
      }
      this.frames.push(frame)
      for (const l of [...this.listeners]) l(frame)
    })
    ws.addEventListener('close', (ev) => {
      this.closed = { code: ev.code, reason: String(ev.reason ?? '') }
      for (const l of [...this.listeners]) l(null)
      for (const w of this.closeWaiters) w(this.closed)
    })
  }

  /** Opens a socket; resolves once it is open (rejects on error or after `timeoutMs`). */
  static open(url, timeoutMs = 10_000) {
    const WS = webSocketClass()
    return new Promise((resolve, reject) => {
      const ws = new WS(url)
      const client = new RawClient(ws)
      const timer = setTimeout(() => {
        try {
          ws.close()
        } catch {}
        reject(new Error(`raw client: ${url} did not open within ${timeoutMs} ms`))
      }, timeoutMs)
      ws.addEventListener('open', () => {
        clearTimeout(timer)
        resolve(client)
      })
      ws.addEventListener('error', (ev) => {
        clearTimeout(timer)
        reject(new Error(`raw client: cannot open ${url}: ${ev.message ?? ev.error?.message ?? 'error'}`))
      })
    })
  }

  /** Resolves with the first frame (already received or future) matching `pred`. */
  waitFrame(pred, timeoutMs = 15_000, what = 'frame') {
    const seen = this.frames.find(pred)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const done = (fn, v) => {
        clearTimeout(timer)
        this.listeners.delete(listener)
        fn(v)
      }
      const listener = (frame) => {
        if (frame === null) done(reject, new Error(`raw client: socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`))
        else if (pred(frame)) done(resolve, frame)
      }
      const timer = setTimeout(() => done(reject, new Error(`raw client: no ${what} within ${timeoutMs} ms`)), timeoutMs)
      this.listeners.add(listener)
      if (this.closed) listener(null)
    })
  }

  /** Resolves with the first event frame for which `pred(frame)` holds (or named `pred`). */
  waitEvent(pred, timeoutMs = 15_000) {
    const p = typeof pred === 'string' ? (f) => f.event === pred : pred
    return this.waitFrame((f) => f.type === 'event' && p(f), timeoutMs, typeof pred === 'string' ? `event ${pred}` : 'event')
  }

  /** Sends a raw frame object. */
  send(frame) {
    this.ws.send(JSON.stringify(frame))
  }

  /** Sends `req` and resolves with the whole `res` frame ({ok, payload} or {ok:false, error}). */
  async call(method, params, timeoutMs = 15_000) {
    const id = `e2e-${this.nextId++}`
    const wait = this.waitFrame((f) => f.type === 'res' && f.id === id, timeoutMs, `res to ${method}`)
    this.send({ type: 'req', id, method, params })
    return wait
  }

  /** Like `call` but resolves with the payload and rejects with the error of a failed `res`. */
  async request(method, params, timeoutMs) {
    const res = await this.call(method, params, timeoutMs)
    if (!res.ok) {
      const err = new Error(`${method} failed: ${res.error?.code}: ${res.error?.message}`)
      err.gatewayError = res.error
      throw err
    }
    return res.payload
  }

  /**
   * Waits for `connect.challenge`, sends `connect` and resolves with the whole `res` frame.
   * Options: `token`, `client` (default BACKEND_CLIENT), `role` ("operator"), `scopes`
   * (["operator.read","operator.write"]), `extra` (more connect params).
   */
  async connectFrame({ token, client = BACKEND_CLIENT, role = 'operator', scopes = ['operator.read', 'operator.write'], extra = {} } = {}) {
    await this.waitEvent('connect.challenge')
    return this.call('connect', {
      minProtocol: 4,
      maxProtocol: 4,
      client,
      role,
      scopes,
      ...(token !== undefined ? { auth: { token } } : {}),
      ...extra,
    })
  }

  /** `connectFrame` that resolves with the hello-ok payload or throws the gateway error. */
  async handshake(opts) {
    const res = await this.connectFrame(opts)
    if (!res.ok) {
      const err = new Error(`connect failed: ${res.error?.code}: ${res.error?.message}`)
      err.gatewayError = res.error
      throw err
    }
    return res.payload
  }

  /** Resolves with `{code, reason}` when the socket closes. */
  waitClose(timeoutMs = 15_000) {
    if (this.closed) return Promise.resolve(this.closed)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`raw client: socket still open after ${timeoutMs} ms`)), timeoutMs)
      this.closeWaiters.push((c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
  }

  /** Closes the socket (no-op when already closed). */
  close() {
    if (!this.closed) {
      try {
        this.ws.close()
      } catch {}
    }
  }
}
