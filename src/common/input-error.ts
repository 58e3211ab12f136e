/** The error every input check throws: the field it is about and what is wrong with it. Pure. */
export class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`invalid input: ${field}: ${message}`);
    this.name = 'InputError';
  }
}
