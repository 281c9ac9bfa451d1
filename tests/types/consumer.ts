// An application's use of the SDK package, type-checked against its .d.ts under strict
// settings and only ES2020 + DOM (no ESNext lib): `npm run test:types`.
import init, { Livecheck, LivecheckError, languages, preload } from "@livecheck/sdk";
import type { LivecheckCapture, ProgressEvent } from "@livecheck/sdk";
import "@livecheck/sdk/element";

export async function verify(link: string, container: HTMLElement): Promise<string | undefined> {
  await init();
  await preload(link);
  try {
    const result = await Livecheck.start({
      link,
      container,
      language: "pt-BR",
      locale: { blink: "Pisque!", button_try_again: "De novo" },
      onPrompt: (p) => console.log(p.code, p.text),
      onProgress: (p: ProgressEvent) => console.log(p.phase === "retry" ? "again" : p.phase),
    });
    console.log(result.attempts);
    return result.lcToken ?? undefined;
  } catch (e) {
    // Rejections are LivecheckErrors: branch on the code.
    if (e instanceof LivecheckError && e.code === "permission_denied") return undefined;
    throw e;
  }
}

/** Mounted with a component, destroyed when it goes. */
export function mounted(link: string, container: HTMLElement): () => void {
  const capture: LivecheckCapture = Livecheck.mount({ link, container });
  capture.result.then((r) => console.log(r.passed), (e: unknown) => console.warn(e));
  return () => capture.destroy();
}

export function element(link: string): HTMLElement {
  const el = document.createElement("livecheck-capture");
  el.setAttribute("link", link);
  console.log(el.capture, languages());
  return el;
}
