// The React wrapper's types, as an application uses them (no JSX needed to check them).
import { createElement } from "react";
import { LivecheckCapture } from "@livecheck/react";

export const view = createElement(LivecheckCapture, {
  link: "https://verifier.example/l/abc",
  language: "ar",
  onResult: (r) => console.log(r.lcToken),
  onError: (e) => console.log(e.code),
  style: { maxWidth: 480 },
});
