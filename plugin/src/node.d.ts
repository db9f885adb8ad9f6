// The few Node built-ins the plugin uses (the package has no @types/node dependency).
declare module 'node:fs' {
  export function existsSync(path: string): boolean
}
declare module 'node:path' {
  export function join(...parts: string[]): string
}
declare module 'node:module' {
  export function createRequire(url: string): (id: string) => any
}
declare const process: {
  env: Record<string, string | undefined>
  exitCode?: number
  stdout: { write(s: string): boolean }
  stderr: { write(s: string): boolean }
}
