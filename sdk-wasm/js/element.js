// <livecheck-capture link="…"> for any framework or none: mounts one check when it is
// connected with a link, takes it out (camera off) when it is removed. Attributes:
// `link`, `language`, `redirect`, `light-opt-out`. Events (bubbling, `detail` as the
// SDK's callbacks give them): `livecheck-prompt`, `livecheck-progress`,
// `livecheck-result`, `livecheck-error`.
import init, { Livecheck } from "./livecheck_sdk.js";

export class LivecheckCaptureElement extends HTMLElement {
  static observedAttributes = ["link"];
  #capture = null;
  /** The mount waiting for the module to load (a newer one, or none, supersedes it). */
  #pending = null;

  connectedCallback() {
    this.#mount();
  }

  disconnectedCallback() {
    this.#unmount();
  }

  attributeChangedCallback() {
    if (!this.isConnected) return;
    this.#unmount();
    this.#mount();
  }

  /** The mounted check (`result`, `destroy()`), or null. */
  get capture() {
    return this.#capture;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true }));
  }

  async #mount() {
    const link = this.getAttribute("link");
    if (!link || this.#capture) return;
    const token = {};
    this.#pending = token;
    await init();
    // Removed, or given another link, while the module loaded.
    if (this.#pending !== token || !this.isConnected) return;
    this.#capture = Livecheck.mount({
      link,
      container: this,
      language: this.getAttribute("language") ?? undefined,
      redirect: this.hasAttribute("redirect"),
      lightOptOut: this.hasAttribute("light-opt-out"),
      onPrompt: (p) => this.#emit("livecheck-prompt", p),
      onProgress: (p) => this.#emit("livecheck-progress", p),
    });
    this.#capture.result.then(
      (r) => this.#emit("livecheck-result", r),
      (e) => this.#emit("livecheck-error", e),
    );
  }

  #unmount() {
    this.#pending = null;
    this.#capture?.destroy();
    this.#capture = null;
  }
}

if (!customElements.get("livecheck-capture")) {
  customElements.define("livecheck-capture", LivecheckCaptureElement);
}
