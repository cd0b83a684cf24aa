/**
 * Chat templates rendered the way transformers' apply_chat_template renders them.
 *
 * transformers renders a template with Python's jinja2 (utils/chat_template_utils.py): an
 * ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the loopcontrols extension,
 * its own `tojson` (json.dumps with ensure_ascii=False, no HTML escaping), `raise_exception` and
 * `strftime_now`. We parse and run templates with @huggingface/jinja (what transformers.js uses)
 * and close the gaps where it renders differently from Python, each one checked against jinja2's
 * output in test/fixtures/chat-templates/expected.json:
 *
 * - whitespace: Python's rules for trim_blocks, lstrip_blocks and the `-`/`+` tag modifiers are
 *   applied here (pythonWhitespace), tag by tag, instead of the library's regular expressions over
 *   the whole source (which also strip inside string literals and reject `{%+`); CRLF becomes LF;
 * - printing: `{{ true }}` is "True", `{{ none }}` is "None", lists and dicts print as Python's
 *   repr, floats as Python's repr ("2.0", "1e-07");
 * - tojson: Python's json.dumps (float repr, indent=0, sort_keys by code point, escapes);
 * - values: == as Python compares (the library's is JavaScript's loose ==), slices with a
 *   negative step and a stop of -1, string length and indexing by code point,
 *   str.strip/lstrip/rstrip with a chars argument, a dict looked up with a non-string key
 *   (undefined, not an error), an attribute of an undefined value (an error, as jinja2's
 *   UndefinedError), `is iterable` / `is sequence` on dicts, the select and reject filters;
 * - strftime_now: C-locale names (the library formats months in the browser's language) and
 *   a date fixed by the caller (`date`), so a render can be reproduced.
 *
 * What the library cannot parse stays refused with a clear error: tests with arguments
 * (`x is divisibleby(3)`), exponent literals (`1e-7`), `{% raw %}`.
 *
 * A template cannot hang the worker: rendering counts evaluation steps (every node, every range
 * element, every loop item), nesting depth, string length and time, and stops with a LabError
 * past the limits. Synchronous code cannot be interrupted from outside, so the check is inside
 * the interpreter.
 */
import { Environment, Interpreter, parse, tokenize } from '@huggingface/jinja';
import { LabError } from '../../errors';
import {
  ArrayValue,
  BooleanValue,
  FunctionValue,
  IntegerValue,
  NullValue,
  bool,
  capitalize,
  entries,
  isArray,
  isMapping,
  items,
  jsonDumps,
  pyEquals,
  pyLstrip,
  pyRstrip,
  pyStr,
  sliceIndices,
  str,
  strftime,
  undef,
  wallClock,
  type RuntimeValue,
  type WallClock,
} from './jinja-python';
import { pythonWhitespace } from './jinja-whitespace';

/** How far one render may go before it is refused as runaway. */
export interface TemplateLimits {
  /** Evaluation steps: one per template node evaluated and per element a range() makes, ten per item a loop runs over. */
  steps: number;
  /** Characters of any string the template builds, its output included. */
  chars: number;
  /** Wall-clock milliseconds, checked every few thousand steps. */
  ms: number;
  /** Nesting of template nodes (macro calls inside macro calls, nested loops and expressions). */
  depth: number;
}

/** Real templates take a few thousand steps per conversation; these limits leave 100× room. */
export const DEFAULT_TEMPLATE_LIMITS: TemplateLimits = { steps: 500_000, chars: 16_000_000, ms: 1_000, depth: 1_000 };

export interface RenderOptions {
  /**
   * The date strftime_now() formats (transformers uses datetime.now()): a Date (its local date
   * and time, as Python's now()), or "YYYY-MM-DD" / "YYYY-MM-DDTHH:MM[:SS]" taken as written.
   * Default: now.
   */
  date?: Date | string;
  limits?: Partial<TemplateLimits>;
}

type Statement = NonNullable<Parameters<Interpreter['evaluate']>[0]>;
type Program = Parameters<Interpreter['run']>[0];
/** A parsed template node, seen from outside the library (its AST classes are not exported). */
interface Node {
  type: string;
  [field: string]: unknown;
}

/** Statement nodes; anything else directly in a block body is an expression whose value is printed. */
const STATEMENTS = new Set(['Program', 'If', 'For', 'Break', 'Continue', 'Set', 'Macro', 'Comment', 'CallStatement', 'FilterStatement', 'StringLiteral']);
const BODIES = ['body', 'alternate', 'defaultBlock'];
/** Filters only this module inserts: print as Python's str(); pay for the items a loop is about to run over. */
const PRINT = '__python_str__';
const LOOP_ITEMS = '__loop_items__';
/** Steps a loop pays per item before it starts: the library builds a scope and a `loop` object for each. */
const LOOP_ITEM_STEPS = 10;

// New nodes are made with the library's own classes (taken from a parsed template), so its AST
// walks (the macro argument scan) still see inside them.
const [FilterExpression, Identifier] = (() => {
  const node = parse(tokenize('{{ x | f }}')).body[0] as unknown as Node;
  type NodeClass = new (...fields: unknown[]) => Node;
  return [node.constructor as NodeClass, (node.operand as Node).constructor as NodeClass];
})();

/** raise_exception() from a template: the template's own refusal, shown to the user as it wrote it. */
class TemplateRaised extends Error {}
/** A render that ran past its limits. */
class TemplateBudget extends Error {}

/** Template tests as jinja2 defines them, where the library's differ or are missing (argument-free ones only: the library cannot parse `is test(arg)`). */
const TESTS: Record<string, (v: RuntimeValue, ...args: RuntimeValue[]) => boolean> = {
  iterable: (v) => isArray(v) || isMapping(v) || v.type === 'StringValue',
  sequence: (v) => isArray(v) || isMapping(v) || v.type === 'StringValue',
  mapping: (v) => v.type === 'ObjectValue' || v.type === 'KeywordArgumentsValue',
  float: (v) => v.type === 'FloatValue',
};

/** Arguments of a filter or method call, evaluated. */
interface Args {
  positional: RuntimeValue[];
  named: Map<string, RuntimeValue>;
}

/** jinja2's str methods that take arguments the library ignores (strip's chars). */
/** The expression an "is undefined" error names: nothing, messages[5], tool.function. */
function path(node: Node): string {
  if (node.type === 'Identifier') return String(node.value);
  if (node.type !== 'MemberExpression') return 'a value';
  const property = node.property as Node;
  const key = !node.computed ? `.${String(property.value)}` : /Literal$/.test(property.type) ? `[${JSON.stringify(property.value)}]` : '[…]';
  return path(node.object as Node) + key;
}

function stringMethod(s: string, name: string): RuntimeValue | undefined {
  const chars = (args: RuntimeValue[]) => {
    const a = args[0];
    return a === undefined || a.type === 'NullValue' ? undefined : String(a.value);
  };
  const fn = (f: (args: RuntimeValue[]) => RuntimeValue) => new FunctionValue(f);
  switch (name) {
    case 'strip':
      return fn((a) => str(pyLstrip(pyRstrip(s, chars(a)), chars(a))));
    case 'lstrip':
      return fn((a) => str(pyLstrip(s, chars(a))));
    case 'rstrip':
      return fn((a) => str(pyRstrip(s, chars(a))));
    case 'capitalize':
      return fn(() => str(capitalize(s)));
    default:
      return undefined;
  }
}

class PythonJinja extends Interpreter {
  private steps = 0;
  private depth = 0;
  private nextClockCheck = 0;
  private readonly startedAt = Date.now();

  constructor(
    env: Environment,
    private readonly limits: TemplateLimits,
  ) {
    super(env);
  }

  /** Counts a step (or `n`, for a range), and stops a runaway render. */
  spend(n = 1): void {
    this.steps += n;
    if (this.steps > this.limits.steps) throw new TemplateBudget(`it ran more than ${this.limits.steps.toLocaleString('en-US')} steps`);
    if (this.steps >= this.nextClockCheck) {
      this.nextClockCheck = this.steps + 4096;
      if (Date.now() - this.startedAt > this.limits.ms) throw new TemplateBudget(`it ran longer than ${this.limits.ms} ms`);
    }
  }

  override evaluate(statement: Statement | undefined, environment: Environment): RuntimeValue {
    this.spend();
    // Nesting is bounded before the JavaScript stack is: the library turns a stack overflow
    // inside a variable lookup into "undefined", which would hide it.
    if (++this.depth > this.limits.depth) throw new TemplateBudget(`it nested more than ${this.limits.depth} levels deep (a macro that calls itself without end?)`);
    try {
      const result = this.dispatch(statement as Node | undefined, environment);
      if (result.type === 'StringValue' && (result.value as string).length > this.limits.chars) {
        throw new TemplateBudget(`it built a string of more than ${this.limits.chars.toLocaleString('en-US')} characters`);
      }
      return result;
    } finally {
      this.depth--;
    }
  }

  private dispatch(node: Node | undefined, environment: Environment): RuntimeValue {
    switch (node?.type) {
      case 'MemberExpression':
        return this.member(node, environment);
      case 'TestExpression':
        return this.test(node, environment);
      case 'FilterExpression':
        return this.filter(node, environment);
      case 'BinaryExpression':
        return this.binary(node, environment) ?? super.evaluate(node as unknown as Statement, environment);
      default:
        return super.evaluate(node as unknown as Statement | undefined, environment);
    }
  }

  /** `~`, `==` and `!=` as Python has them (the library's == is JavaScript's loose equality); undefined for the rest. */
  private binary(node: Node, environment: Environment): RuntimeValue | undefined {
    const op = (node.operator as Node).value;
    if (op !== '~' && op !== '==' && op !== '!=') return undefined;
    const left = this.evaluate(node.left as Statement, environment);
    const right = this.evaluate(node.right as Statement, environment);
    if (op === '~') return str(pyStr(left) + pyStr(right));
    return bool(pyEquals(left, right) === (op === '=='));
  }

  private args(list: unknown, environment: Environment): Args {
    const out: Args = { positional: [], named: new Map() };
    for (const a of (list as Node[] | undefined) ?? []) {
      if (a.type === 'KeywordArgumentExpression') out.named.set((a.key as Node).value as string, this.evaluate(a.value as Statement, environment));
      else out.positional.push(this.evaluate(a as Statement, environment));
    }
    return out;
  }

  /** x[i], x[a:b:c], x.name: Python's slices, code-point strings, undefined for a missing key of any type. */
  private member(node: Node, environment: Environment): RuntimeValue {
    const object = this.evaluate(node.object as Statement, environment);
    const property = node.property as Node;
    if (object.type === 'UndefinedValue') throw new Error(`'${path(node.object as Node)}' is undefined`); // jinja2's UndefinedError
    if (node.computed && property.type === 'SliceExpression') {
      const bound = (n: unknown) => {
        const v = this.evaluate(n as Statement | undefined, environment);
        if (v.type === 'UndefinedValue' || v.type === 'NullValue') return undefined;
        if (v.type !== 'IntegerValue') throw new Error('slice indices must be integers or None');
        return v.value as number;
      };
      const [start, stop, step] = [bound(property.start), bound(property.stop), bound(property.step)];
      if (object.type === 'StringValue') {
        const chars = [...(object.value as string)];
        return str(sliceIndices(chars.length, start, stop, step ?? 1).map((i) => chars[i]).join(''));
      }
      if (!isArray(object)) throw new Error(`'${object.type}' object is not subscriptable`);
      const list = items(object);
      return new ArrayValue(sliceIndices(list.length, start, stop, step ?? 1).map((i) => list[i]));
    }
    const key = node.computed ? this.evaluate(property as Statement, environment) : str(String(property.value));
    if (object.type === 'StringValue') {
      if (key.type === 'IntegerValue') {
        const chars = [...(object.value as string)];
        const i = key.value as number;
        const c = chars[i < 0 ? i + chars.length : i];
        return c === undefined ? undef() : str(c);
      }
      const method = stringMethod(object.value as string, String(key.value));
      if (method) return method;
    }
    let found: RuntimeValue | undefined;
    if (isMapping(object)) {
      // A key of another type is simply not there (Python's dict), not an error.
      if (key.type === 'StringValue') found = entries(object).get(key.value as string) ?? (object.type === 'NamespaceValue' ? undefined : object.builtins.get(key.value as string));
    } else if (isArray(object) && key.type === 'IntegerValue') found = items(object).at(key.value as number);
    else if (key.type === 'StringValue') found = object.builtins.get(key.value as string);
    return found ?? undef();
  }

  private test(node: Node, environment: Environment): RuntimeValue {
    const name = (node.test as Node).value as string;
    const test = TESTS[name];
    if (!test) return super.evaluate(node as unknown as Statement, environment);
    const result = test(this.evaluate(node.operand as Statement, environment));
    return bool(node.negate ? !result : result);
  }

  private filter(node: Node, environment: Environment): RuntimeValue {
    const f = node.filter as Node;
    const name = (f.type === 'CallExpression' ? (f.callee as Node).value : f.value) as string;
    if (name === PRINT) return str(pyStr(this.evaluate(node.operand as Statement, environment)));
    if (name === LOOP_ITEMS) {
      const iterable = this.evaluate(node.operand as Statement, environment);
      this.spend(LOOP_ITEM_STEPS * (isArray(iterable) ? items(iterable).length : isMapping(iterable) ? entries(iterable).size : 0));
      return iterable;
    }
    const handled = ['tojson', 'select', 'reject', 'length', 'count', 'string', 'trim', 'capitalize'];
    if (!handled.includes(name)) return super.evaluate(node as unknown as Statement, environment);
    const operand = this.evaluate(node.operand as Statement, environment);
    const { positional, named } = f.type === 'CallExpression' ? this.args(f.args, environment) : { positional: [], named: new Map<string, RuntimeValue>() };
    const arg = (i: number, key: string) => positional[i] ?? named.get(key);
    switch (name) {
      case 'tojson': {
        const indent = arg(1, 'indent');
        const separators = arg(2, 'separators');
        const indentText = !indent || indent.type === 'NullValue' ? null : indent.type === 'StringValue' ? (indent.value as string) : ' '.repeat(indent.value as number);
        const [itemSep, keySep] = separators && isArray(separators) ? items(separators).map((s) => String(s.value)) : [indentText === null ? ', ' : ',', ': '];
        const flag = (v: RuntimeValue | undefined) => (v ? v.__bool__().value : false);
        return str(jsonDumps(operand, { indent: indentText, itemSep, keySep, sortKeys: flag(arg(3, 'sort_keys')), ensureAscii: flag(arg(0, 'ensure_ascii')) }));
      }
      case 'select':
      case 'reject': {
        const [testName, ...testArgs] = positional;
        const check = testName
          ? (v: RuntimeValue) => {
              const t = TESTS[String(testName.value)] ?? environment.tests.get(String(testName.value));
              if (!t) throw new Error(`No test named '${String(testName.value)}'.`);
              return t(v, ...testArgs);
            }
          : (v: RuntimeValue) => v.__bool__().value;
        return new ArrayValue(items(operand).filter((v) => check(v) === (name === 'select')));
      }
      case 'length':
      case 'count':
        if (operand.type === 'StringValue') return new IntegerValue([...(operand.value as string)].length);
        if (isMapping(operand)) return new IntegerValue(entries(operand).size);
        if (isArray(operand)) return new IntegerValue(items(operand).length);
        if (operand.type === 'UndefinedValue') return new IntegerValue(0);
        throw new Error(`object of type '${operand.type}' has no len()`);
      case 'string':
        return str(pyStr(operand));
      case 'trim': {
        const chars = arg(0, 'chars');
        const c = chars && chars.type !== 'NullValue' ? String(chars.value) : undefined;
        return str(pyLstrip(pyRstrip(pyStr(operand), c), c));
      }
      default: // capitalize
        return str(capitalize(pyStr(operand)));
    }
  }
}

/**
 * Wraps every printed expression in a PRINT filter, so it prints as Python's str() (True, None,
 * [1, 'a']), and every loop's iterable in a LOOP_ITEMS filter, so a loop pays for its items
 * before the library allocates a scope for each.
 */
function rewrite(node: Node): void {
  for (const key of BODIES) {
    const body = node[key];
    if (!Array.isArray(body)) continue;
    body.forEach((child: Node, i) => {
      if (STATEMENTS.has(child.type)) rewrite(child);
      else body[i] = new FilterExpression(child, new Identifier(PRINT));
    });
  }
  if (node.type === 'For') {
    const iterable = node.iterable as Node;
    const owner = iterable.type === 'SelectExpression' ? iterable : node; // `for x in xs if test`
    const key = owner === node ? 'iterable' : 'lhs';
    owner[key] = new FilterExpression(owner[key], new Identifier(LOOP_ITEMS));
  }
}

/** A parsed chat template. Parse once, render many conversations. */
export class ChatTemplate {
  private readonly program: Program;

  /** `label` names the template in messages: "The chat template (hub …: chat_template.jinja)". */
  constructor(
    readonly source: string,
    readonly label = 'The chat template',
  ) {
    try {
      this.program = parse(tokenize(pythonWhitespace(source)));
      rewrite(this.program as unknown as Node);
    } catch (e) {
      throw new LabError(
        'unsupported',
        `${label} could not be parsed: ${(e as Error).message}. SPaR Lab renders templates with @huggingface/jinja, which lacks a few jinja2 features (tests with an argument such as "is divisibleby(3)", exponent literals such as 1e-7, {% raw %}).`,
        { cause: e },
      );
    }
  }

  /**
   * The template's text for these variables. `context` holds what transformers passes:
   * messages, tools, documents, add_generation_prompt and the special tokens.
   */
  render(context: Record<string, unknown>, opts: RenderOptions = {}): string {
    const limits = { ...DEFAULT_TEMPLATE_LIMITS, ...opts.limits };
    const env = new Environment();
    for (const [k, v] of Object.entries(context)) env.set(k, v);
    const interpreter = new PythonJinja(env, limits);
    installGlobals(env, interpreter, wallClock(opts.date));
    try {
      return pyStr(interpreter.run(this.program));
    } catch (e) {
      throw this.refusal(e);
    }
  }

  private refusal(e: unknown): LabError {
    if (e instanceof LabError) return e;
    if (e instanceof TemplateRaised) return new LabError('invalid-input', `${this.label} refused this conversation: ${e.message}`, { cause: e });
    const runaway = (why: string) =>
      new LabError(
        'unsupported',
        `${this.label} was stopped: ${why}. A chat template renders a conversation in a few thousand steps; SPaR Lab stops one that runs away so that it cannot hang the lab. Check the template's loops and macros.`,
        { cause: e },
      );
    if (e instanceof TemplateBudget) return runaway(e.message);
    if (e instanceof RangeError) return runaway(/call stack/i.test(e.message) ? 'it recursed too deeply' : /string length/i.test(e.message) ? 'it built a string too long to hold' : e.message);
    return new LabError('invalid-input', `${this.label} failed on this conversation: ${(e as Error).message ?? String(e)}`, { cause: e });
  }
}

/** transformers' globals (raise_exception, strftime_now) and jinja2's (range, true/none …); a context variable of the same name wins, as in jinja2. */
function installGlobals(env: Environment, interpreter: PythonJinja, clock: WallClock): void {
  const global = (name: string, value: RuntimeValue) => env.variables.has(name) || env.setVariable(name, value);
  for (const [k, v] of Object.entries({ true: true, false: false, none: null, True: true, False: false, None: null })) global(k, v === null ? new NullValue() : bool(v));
  global(
    'raise_exception',
    new FunctionValue((args: RuntimeValue[]) => {
      throw new TemplateRaised(args.length ? pyStr(args[0]) : '');
    }),
  );
  global('strftime_now', new FunctionValue((args: RuntimeValue[]) => str(strftime(args.length ? pyStr(args[0]) : '', clock))));
  global(
    'range',
    new FunctionValue((args: RuntimeValue[]) => {
      const n = args.map((a) => {
        if (a.type !== 'IntegerValue' && a.type !== 'BooleanValue') throw new Error(`'${a.type}' object cannot be interpreted as an integer`);
        return Number(a.value);
      });
      const [start, stop, step] = n.length === 1 ? [0, n[0], 1] : [n[0], n[1], n[2] ?? 1];
      if (step === 0) throw new Error('range() arg 3 must not be zero');
      const count = Math.max(0, Math.ceil((stop - start) / step));
      interpreter.spend(count); // paid before it is built: range(10**9) is refused, not allocated
      return new ArrayValue(Array.from({ length: count }, (_, i) => new IntegerValue(start + i * step)));
    }),
  );
}
