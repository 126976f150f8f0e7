// ekmd's log as the dev start shows it on a terminal (its JSON lines stay in logs/ekmd.log).
import { prettyFactory } from 'pino-pretty';

/**
 * pino JSON lines in, one pretty line per record out (pino-pretty, colour on a terminal);
 * lines that are not JSON pass through unchanged. Chunks may split lines: the tail waits.
 */
export function prettyLines(
  write: (text: string) => void,
  colorize: boolean,
): (chunk: Buffer) => void {
  const pretty = prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,component',
    messageFormat: '{if component}{component}: {end}{msg}',
    singleLine: true,
  });
  let rest = '';
  return (chunk) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      let text: string;
      try {
        text = line.startsWith('{') ? pretty(line) : `${line}\n`;
      } catch {
        text = `${line}\n`;
      }
      write(text);
    }
  };
}
