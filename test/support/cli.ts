/** Running the real `idgate` program in a child process. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `idgate ...args` to completion (with optional stdin) and collects its output. */
export function runCli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Starts a long-running `idgate` subcommand; resolves once a JSON log line matches `ready`. The
 * deadline only ends a start that hangs: 15 s was not enough for the webhook with --manage-certs
 * while the whole suite ran on two busy cores.
 */
export function startCli(
  args: string[],
  ready: (line: Record<string, unknown>) => boolean,
  timeoutMs = 60_000,
  main = MAIN,
): Promise<{ child: ChildProcessWithoutNullStreams; line: Record<string, unknown>; lines: Array<Record<string, unknown>>; exited: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args]);
    const lines: Array<Record<string, unknown>> = [];
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let buffer = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`not ready after ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      buffer += d;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text);
        } catch {
          continue;
        }
        lines.push(line);
        if (ready(line)) {
          clearTimeout(timer);
          resolve({ child, line, lines, exited });
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready; stderr: ${stderr}`));
    });
  });
}
