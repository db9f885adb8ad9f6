// A WebSocket proxy on 127.0.0.1 (OS-chosen port) in front of a gateway, recording every frame
// with its time: tests point an engine (or the plugin's `gatewayUrl`) at it to see when the
// engine's requests reach the gateway. Survives gateway restarts (each downstream socket gets
// its own upstream socket; a refused upstream closes the downstream one).
//   const proxy = await startWsProxy(`ws://127.0.0.1:${port}`)
//   proxy.url                 // where the engine connects
//   proxy.log                 // [{at, dir: 'open'|'out'|'in'|'close', frame?}]
//   proxy.requests('chat.send')   // [{at, frame}] requests the engine sent, oldest first
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { layout } from '../../scripts/setup-openclaw.mjs'

function wsModule() {
  // Node 20 has no WebSocket server: `ws` from the openclaw install (a dependency of it).
  return createRequire(join(layout().openclawDir, 'package.json'))('ws')
}

export async function startWsProxy(upstream) {
  const WS = wsModule()
  const log = []
  const sockets = new Set()
  const server = new WS.WebSocketServer({ host: '127.0.0.1', port: 0 })
  server.on('connection', (down) => {
    log.push({ at: Date.now(), dir: 'open' })
    const up = new WS(upstream)
    sockets.add(down).add(up)
    const queued = []
    const record = (dir, data) => {
      let frame
      try {
        frame = JSON.parse(data.toString('utf8'))
      } catch {
        frame = { unparsed: true }
      }
      log.push({ at: Date.now(), dir, frame })
    }
    up.on('open', () => {
      for (const m of queued.splice(0)) up.send(m)
    })
    down.on('message', (data, isBinary) => {
      record('out', data)
      const m = isBinary ? data : data.toString('utf8')
      if (up.readyState === WS.OPEN) up.send(m)
      else queued.push(m)
    })
    up.on('message', (data, isBinary) => {
      record('in', data)
      if (down.readyState === WS.OPEN) down.send(isBinary ? data : data.toString('utf8'))
    })
    let closed = false
    const closeBoth = (code, reason) => {
      if (closed) return
      closed = true
      log.push({ at: Date.now(), dir: 'close' })
      const c = typeof code === 'number' && code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1001
      try {
        down.close(c, reason?.toString?.() ?? '')
      } catch {
        down.terminate()
      }
      up.terminate()
      sockets.delete(down)
      sockets.delete(up)
    }
    down.on('close', () => closeBoth(1000))
    up.on('close', (code, reason) => closeBoth(code, reason))
    up.on('error', () => closeBoth(1011))
    down.on('error', () => closeBoth(1011))
  })
  await new Promise((r) => server.once('listening', r))
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    log,
    /** Requests of `method` the engine sent, oldest first (optionally for one session). */
    requests(method, sessionKey) {
      return log.filter((f) => f.dir === 'out' && f.frame?.method === method && (sessionKey === undefined || f.frame.params?.sessionKey === sessionKey))
    },
    /** The gateway's answer to a request frame, if it came. */
    answerTo(req) {
      return log.find((f) => f.dir === 'in' && f.frame?.type === 'res' && f.frame.id === req.frame.id && f.at >= req.at)
    },
    close() {
      for (const s of sockets) s.terminate()
      return new Promise((r) => server.close(() => r()))
    },
  }
}
