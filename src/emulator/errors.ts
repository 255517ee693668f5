/** Bad input to inject()/the control API: the control API turns it into HTTP 400. */
export class EmulatorInputError extends Error {
  override readonly name: string = "EmulatorInputError";
}

/** A control call names something the emulator does not have (a pool number, a tenant): HTTP 404. */
export class EmulatorNotFoundError extends EmulatorInputError {
  override readonly name = "EmulatorNotFoundError";
}
