// The npm scripts run as child processes, the way a user runs them (the CLI tests).
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** The repository root: the scripts' working directory. */
export const root = new URL('..', import.meta.url).pathname;

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** This process's environment without SST links or AWS settings: nothing from the developer's shell reaches the script. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SST_RESOURCE_') && !k.startsWith('AWS_')));
}

/**
 * Runs scripts/`script` with `args` under this Node and collects its exit code and output. With
 * `timeoutMs`, a script still running then is killed and the promise rejects (with its stderr).
 */
export function runScript(script: string, args: string[], options: { env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'scripts', script), ...args], { cwd: root, env: options.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`${script} ${args.join(' ')} timed out; stderr: ${stderr}`));
          }, options.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
