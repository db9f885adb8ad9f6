// `node benchmark/lib/prefill.mjs <path> <count>`: write an old-plugin queue.json of `count`
// entries (`oldEntries` of park.mjs) to `path`, in a process of its own (see park.mjs).
import { writeFileSync } from 'node:fs'
import { oldEntries } from '../park.mjs'

const [path, count] = process.argv.slice(2)
writeFileSync(path, JSON.stringify(oldEntries(Number(count), 'pre')))
