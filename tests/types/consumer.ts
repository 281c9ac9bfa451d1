// An application's use of the SDK package, type-checked against its .d.ts under strict
// settings and only ES2020 + DOM (no ESNext lib): `npm run test:types`.
import init, { Livecheck } from "@livecheck/sdk";

export async function verify(link: string, container: HTMLElement): Promise<string | undefined> {
  await init();
  try {
    const result = await Livecheck.start({ link, container, onPrompt: (p: { code: string; text: string }) => console.log(p.code, p.text) });
    return result.lcToken ?? undefined;
  } catch (e) {
    // Rejections are LivecheckErrors: branch on the code.
    if (e instanceof Error && (e as { code?: string }).code === "permission_denied") return undefined;
    throw e;
  }
}
