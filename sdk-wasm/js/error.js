// The SDK's error class: `catch (e) { if (e instanceof LivecheckError) … e.code }`. The
// wasm module constructs it, and the package entry exports this same class.
export class LivecheckError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "LivecheckError";
    this.code = code;
  }
}
