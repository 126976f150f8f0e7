// Asks on the terminal: the password with echo off, when no file, environment or config
// file gave one; whether to trust a certificate seen for the first time.
import { createInterface } from 'node:readline';

export function canPrompt(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

export function promptPassword(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          return resolve(typed);
        }
        if (ch === '\u0003') {
          finish();
          return reject(new Error('interrupted'));
        }
        typed = ch === '\u007f' || ch === '\b' ? typed.slice(0, -1) : typed + ch;
      }
    };
    // Echo off before the question shows, so nothing typed early is echoed.
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** A yes/no question on the terminal; anything but y or yes (or an interrupt) is no. */
export function promptYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  return new Promise((resolve) => {
    let yes = false;
    rl.once('close', () => resolve(yes));
    rl.once('SIGINT', () => {
      process.stderr.write('\n');
      rl.close();
    });
    rl.question(question, (answer) => {
      yes = /^y(es)?$/i.test(answer.trim());
      rl.close();
    });
  });
}
