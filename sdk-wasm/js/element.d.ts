import type { LivecheckCapture } from "./livecheck_sdk.js";

/**
 * `<livecheck-capture link="…" language="fr" redirect light-opt-out>`: mounts one check
 * when connected with a `link`, destroys it (camera off, UI removed) when removed.
 * Events: `livecheck-prompt`, `livecheck-progress`, `livecheck-result`, `livecheck-error`
 * (`CustomEvent`, `detail` as the SDK's callbacks give them).
 */
export declare class LivecheckCaptureElement extends HTMLElement {
  static observedAttributes: string[];
  /** The mounted check, or null. */
  readonly capture: LivecheckCapture | null;
  connectedCallback(): void;
  disconnectedCallback(): void;
  attributeChangedCallback(): void;
}

declare global {
  interface HTMLElementTagNameMap {
    "livecheck-capture": LivecheckCaptureElement;
  }
}
