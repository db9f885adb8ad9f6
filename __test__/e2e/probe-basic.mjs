import { startFakeProvider } from './fake-provider.mjs'
import { startGateway } from './gateway.mjs'
import { RawClient } from './raw-client.mjs'
const fake = await startFakeProvider({ text: 'hello from fake' })
const t0 = Date.now()
let gw
try {
  gw = await startGateway({ providerUrl: fake.url, token: 'tok-e2e-secret', keepTemp: true })
} catch (e) { console.error(e.message); process.exit(1) }
console.log('ready in', Date.now() - t0, 'ms', gw.url, gw.root)
const c = await RawClient.open(gw.url)
const hello = await c.connectFrame({ token: 'tok-e2e-secret' })
console.log(JSON.stringify(c.frames[0]))
console.log(JSON.stringify(hello, null, 1).slice(0, 6000))
await gw.stop()
await fake.close()
