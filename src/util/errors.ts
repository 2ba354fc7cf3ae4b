// The one error class the CLI prints as a message without a stack (src/cli/main.ts).

/** Thrown for problems the user can fix (bad flag, missing file...): the CLI prints the message, no stack. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
