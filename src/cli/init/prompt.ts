import { createInterface } from 'node:readline/promises'
import { InitError } from './options.js'

/** One question init asks when a flag is missing and stdin is a terminal. */
export interface Question {
  /** The flag it stands for (`name`, `team`, `model`, `org`). */
  readonly key: string
  readonly message: string
  /** Taken when the answer is empty. */
  readonly default?: string
  readonly choices?: readonly string[]
}

/**
 * Asks one question and resolves with the raw answer. Injectable: the CLI uses a terminal prompt,
 * tests pass a function that answers from a script.
 */
export type PromptFn = (question: Question) => Promise<string>

/** Attempts before init gives up on a question whose answers keep failing validation. */
const MAX_ATTEMPTS = 3

/**
 * Asks until `check` accepts the answer (an empty answer takes the default); the reason for a
 * refusal is shown before asking again.
 */
export async function ask(prompt: PromptFn, question: Question, check: (value: string) => string | undefined, say: (line: string) => void): Promise<string> {
  let problem = ''
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const answer = (await prompt(question)).trim()
    const value = answer === '' ? (question.default ?? '') : answer
    const why = value === '' ? `${question.key} is required` : check(value)
    if (why === undefined) return value
    problem = why
    say(why)
  }
  throw new InitError(`no valid ${question.key} after ${MAX_ATTEMPTS} attempts: ${problem}`)
}

/** A prompt on a terminal: `Service name [default]: `. Ctrl-C or Ctrl-D cancels init. */
export function terminalPrompt(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): PromptFn {
  return async (question) => {
    const rl = createInterface({ input, output, terminal: true })
    rl.on('SIGINT', () => {
      output.write('\n')
      rl.close()
    })
    let answered = false
    const closed = new Promise<never>((_, reject) =>
      rl.once('close', () => {
        if (!answered) reject(new InitError('cancelled (nothing written)'))
      }),
    )
    try {
      const choices = question.choices ? ` (${question.choices.join('/')})` : ''
      const def = question.default ? ` [${question.default}]` : ''
      const answer = await Promise.race([rl.question(`${question.message}${choices}${def}: `), closed])
      answered = true
      return answer
    } finally {
      rl.close()
    }
  }
}
