/** Bad input to inject()/the control API: the control API turns it into HTTP 400. */
export class EmulatorInputError extends Error {
  override readonly name = "EmulatorInputError";
}
