// A minimal read-only npm registry on 127.0.0.1 that serves the tarballs `npm run pack:local`
// made (packuments + tarballs, nothing else), so the OpenClaw installer's own `npm install`
// can fetch the native platform package (and `npm:<pkg>` installs) without the internet.
//   const reg = await startLocalRegistry([rootTgz, platformTgz])
//   env.npm_config_registry = reg.url   // then: openclaw plugins install …
//   await reg.close()
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { basename } from 'node:path'

/** package.json of a tarball (read with tar, which every test machine has). */
function manifestOf(tgz) {
  return JSON.parse(execFileSync('tar', ['-xOzf', tgz, 'package/package.json'], { encoding: 'utf8' }))
}

/** Starts the registry for `tarballs`; resolves with `{url, requests, close()}`. */
export async function startLocalRegistry(tarballs) {
  const packages = new Map()
  const files = new Map()
  for (const tgz of tarballs) {
    const bytes = readFileSync(tgz)
    const pkg = manifestOf(tgz)
    const file = basename(tgz)
    files.set(file, bytes)
    packages.set(pkg.name, { pkg, file, bytes })
  }
  const requests = []
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname)
    requests.push(`${req.method} ${path}`)
    const tarball = path.match(/^\/-\/tarballs\/(.+)$/)
    if (tarball && files.has(tarball[1])) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      return res.end(files.get(tarball[1]))
    }
    const entry = packages.get(path.slice(1))
    if (!entry) {
      res.writeHead(404, { 'content-type': 'application/json' })
      return res.end('{"error":"not found"}')
    }
    const { pkg, file, bytes } = entry
    const base = `http://127.0.0.1:${server.address().port}`
    const version = {
      ...pkg,
      _id: `${pkg.name}@${pkg.version}`,
      dist: {
        tarball: `${base}/-/tarballs/${file}`,
        integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
        shasum: createHash('sha1').update(bytes).digest('hex'),
      },
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ name: pkg.name, 'dist-tags': { latest: pkg.version }, versions: { [pkg.version]: version } }))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
