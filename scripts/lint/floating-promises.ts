// A promise nobody awaits loses its error and its ordering: a store write that was meant to
// commit before the next step would race it. This check (part of `npm run lint`) fails on
// a call under src/ whose promise is dropped: neither awaited, nor kept, nor handled
// (.catch, .then with a rejection handler), nor marked deliberate with `void`.
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = join(__dirname, '../../..');
const config = ts.getParsedCommandLineOfConfigFile(
  join(root, 'tsconfig.json'),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  },
)!;
const files = config.fileNames.filter((f) => /^(src|test|scripts)\//.test(relative(root, f)));
const program = ts.createProgram(files, config.options);
const checker = program.getTypeChecker();

function isPromise(type: ts.Type): boolean {
  if (type.isUnion()) return type.types.some(isPromise);
  const symbol = type.getSymbol() ?? type.aliasSymbol;
  return symbol?.getName() === 'Promise';
}

/** `p.catch(f)` or `p.then(f, g)`: the rejection is handled where the promise is made. */
function handlesRejection(call: ts.CallExpression): boolean {
  if (!ts.isPropertyAccessExpression(call.expression)) return false;
  const name = call.expression.name.text;
  return name === 'catch' || (name === 'then' && call.arguments.length === 2);
}

const found: string[] = [];
for (const file of program.getSourceFiles()) {
  if (!files.includes(file.fileName)) continue;
  const visit = (node: ts.Node): void => {
    if (ts.isExpressionStatement(node) && ts.isCallExpression(node.expression)) {
      const e = node.expression;
      if (!handlesRejection(e) && isPromise(checker.getTypeAtLocation(e))) {
        const { line } = file.getLineAndCharacterOfPosition(node.getStart());
        found.push(
          `${relative(root, file.fileName)}:${line + 1}: ${node.getText().split('\n')[0]}`,
        );
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}
if (found.length) {
  process.stderr.write(`promises neither awaited nor voided:\n  ${found.join('\n  ')}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(`no floating promises in ${files.length} files\n`);
}
