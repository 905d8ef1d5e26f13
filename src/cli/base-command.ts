/**
 * The bases of every spikeclip command. SpikeclipBaseCommand (commands that compute nothing:
 * inspect, data, convert teacher/export, eval collect): --json envelope, --config, --quiet,
 * --debug, one error path, one warning path (stderr and the envelope's warnings, never stdout),
 * deprecated flag names, progress on stderr. SpikeclipCommand (commands that compute) adds
 * --seed, --backend and --threads, and backend start-up/shut-down.
 */
import { Command, Flags, Interfaces } from '@oclif/core';
// TF.js loads only when a command computes (useBackend): listing, help and --version stay fast.
import type { BackendInfo } from '../backend';
import { BACKEND_CHOICES } from '../backend/choices';
import { readConfigFile } from '../io/config-file';
import { FlagSpec, mergeConfig } from './config';
import { deprecatedNamesUsed, type AliasedFlag } from './deprecated-flags';
import { errorEnvelope, formatErrorForHuman, toErrorReport } from './errors';
import { createProgress, Progress } from './progress';
import { describeUsageError, type UsageFlagInfo } from './usage-message';

/** Flags of every command. */
const commonFlags = {
  config: Flags.string({
    description: 'JSON or YAML file of flag values (keys are flag names); flags on the command line override it.',
    helpGroup: 'GLOBAL',
  }),
  quiet: Flags.boolean({ char: 'q', description: 'No progress or log lines on stderr (errors still print).', helpGroup: 'GLOBAL' }),
  debug: Flags.boolean({ description: 'Show stack traces on errors.', helpGroup: 'GLOBAL' }),
};

/** --seed, for commands that make random choices (all that compute, and `data info`'s carved val split). */
export const seedFlag = Flags.integer({
  description: 'Seed for every random choice (weight init, shuffling, augmentation, synthetic data, carved splits).',
  default: 0,
  helpGroup: 'COMPUTE',
});

/** Flags of commands that compute with TF.js. */
const computeFlags = {
  seed: seedFlag,
  backend: Flags.string({
    description: 'TF.js backend: auto tries node (tfjs-node), then wasm, then cpu. An explicit choice never falls back.',
    options: [...BACKEND_CHOICES],
    env: 'SPIKECLIP_BACKEND',
    helpGroup: 'COMPUTE',
  }),
  threads: Flags.integer({
    description: 'Threads for the backend (default: all cores; wasm at most 8).',
    min: 1,
    helpGroup: 'COMPUTE',
  }),
};

export type PlainFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof SpikeclipBaseCommand)['baseFlags'] & T['flags']>;
export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof SpikeclipCommand)['baseFlags'] & T['flags']>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/** The --json success envelope. */
export interface SuccessEnvelope<R> {
  status: 0;
  result: R;
  /** The TF.js backend the command computed with, when it used one. */
  backend?: { name: string; threads: number; simd: boolean };
  warnings: string[];
}

/** The base of commands that compute nothing (no --seed, --backend, --threads). */
export abstract class SpikeclipBaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = commonFlags;

  protected flags!: PlainFlags<T>;
  protected args!: BaseArgs<T>;
  /** Every positional argument, in order (for commands with `strict = false` that take many). */
  protected argvRest: string[] = [];
  protected backendInfo?: BackendInfo;
  protected progress!: Progress;
  private readonly warningsSeen: string[] = [];
  private debugEnabled = false;
  private quietEnabled = false;

  public override async init(): Promise<void> {
    await super.init();
    this.debugEnabled = this.argv.includes('--debug');
    this.quietEnabled = this.argv.includes('--quiet') || this.argv.includes('-q');
    // Node warnings (ours use process.emitWarning) go to stderr as one line and into the JSON envelope.
    process.removeAllListeners('warning');
    process.on('warning', (w: Error) => this.warnUser(w.message));
    const ctor = this.ctor as typeof SpikeclipBaseCommand;
    const { flags, args, argv, metadata } = await this.parse({
      flags: ctor.flags,
      baseFlags: ctor.baseFlags,
      args: ctor.args,
      enableJsonFlag: ctor.enableJsonFlag,
      strict: ctor.strict,
    });
    let merged: Record<string, unknown> = flags;
    if (typeof flags.config === 'string') {
      const explicit = new Set(
        Object.entries(metadata.flags)
          .filter(([, m]) => !(m as { setFromDefault?: boolean }).setFromDefault)
          .map(([k]) => k),
      );
      for (const k of Object.keys(flags)) if (!(k in metadata.flags)) explicit.add(k);
      const specs = { ...ctor.baseFlags, ...ctor.flags } as unknown as Record<string, FlagSpec>;
      merged = await mergeConfig(flags.config, readConfigFile(flags.config), flags, specs, explicit, (m) => this.warnUser(m));
    }
    this.flags = merged as PlainFlags<T>;
    this.args = args as BaseArgs<T>;
    this.argvRest = argv.map(String);
    this.debugEnabled = Boolean(this.flags.debug);
    this.quietEnabled = Boolean(this.flags.quiet);
    this.progress = createProgress({ enabled: !this.jsonEnabled() && !this.quietEnabled, log: !this.jsonEnabled() && !this.quietEnabled });
  }

  /** One warning: a line on stderr (unless --quiet) and an entry in the --json envelope's warnings. */
  protected warnUser(message: string): void {
    this.warningsSeen.push(message);
    if (!this.quietEnabled) process.stderr.write(`Warning: ${message}\n`);
  }

  /** oclif's warnings (deprecations) take our path: stderr even with --json, never stdout. */
  public override warn(input: string | Error): string | Error {
    this.warnUser(typeof input === 'string' ? input : input.message);
    return input;
  }

  /** A deprecated flag name (an alias with deprecateAliases), as `--old v` or `--old=v`: one warning naming the new flag. */
  protected override warnIfFlagDeprecated(_flags: Record<string, unknown>): void {
    const ctor = this.ctor as typeof SpikeclipBaseCommand;
    const defs = { ...ctor.baseFlags, ...ctor.flags } as unknown as Record<string, AliasedFlag>;
    for (const m of deprecatedNamesUsed(this.argv, defs)) this.warnUser(m);
  }

  /** A log line on stderr (silent with --quiet; also silent with --json so stderr stays clean for progress only). */
  protected note(message: string): void {
    if (!this.quietEnabled && !this.jsonEnabled()) process.stderr.write(`${message}\n`);
  }

  protected override toSuccessJson(result: unknown): SuccessEnvelope<unknown> {
    const env: SuccessEnvelope<unknown> = { status: 0, result, warnings: [...this.warningsSeen] };
    if (this.backendInfo) env.backend = { name: this.backendInfo.name, threads: this.backendInfo.threads, simd: this.backendInfo.simd };
    return env;
  }

  protected override logJson(json: unknown): void {
    // Plain JSON, no colours, whatever the terminal.
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<void> {
    this.progress?.stop();
    const report = toErrorReport(err);
    if (report.name === 'UsageError') {
      // Name what each flag allows: the parser's message has only the flag's name.
      const ctor = this.ctor as typeof SpikeclipBaseCommand;
      report.message = describeUsageError(err.message, { ...ctor.baseFlags, ...ctor.flags } as unknown as Record<string, UsageFlagInfo>);
    }
    process.exitCode = report.status;
    if (this.jsonEnabled()) {
      this.logJson(errorEnvelope(report, this.debugEnabled || this.argv.includes('--debug')));
    } else {
      process.stderr.write(`${formatErrorForHuman(report, this.debugEnabled || this.argv.includes('--debug'))}\n`);
    }
  }

  protected override async finally(err: Error | undefined): Promise<void> {
    if (this.backendInfo) (await import('../backend')).releaseBackend();
    await super.finally(err);
  }
}

/** The base of commands that compute: --seed, --backend and --threads, and the backend's start. */
export abstract class SpikeclipCommand<T extends typeof Command> extends SpikeclipBaseCommand<T> {
  static override baseFlags = { ...commonFlags, ...computeFlags };

  protected declare flags: BaseFlags<T>;

  /** Starts the TF.js backend (once) and reports it on stderr. */
  protected async useBackend(): Promise<BackendInfo> {
    if (this.backendInfo) return this.backendInfo;
    const [{ initBackend, describeBackend }, { installBackendHooks }] = await Promise.all([import('../backend'), import('./backend-hooks')]);
    const info = await initBackend({ backend: this.flags.backend, threads: this.flags.threads }, installBackendHooks());
    this.backendInfo = info;
    this.note(describeBackend(info));
    for (const s of info.skipped) this.note(`  skipped ${s.name}: ${s.reason}`);
    return info;
  }
}
