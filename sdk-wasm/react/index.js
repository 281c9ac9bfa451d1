// <LivecheckCapture link={…} onResult={…} />: one check in a React tree. Mounted when the
// component mounts (or its link or language changes), destroyed when it unmounts (camera
// off, UI removed; a link not yet claimed stays usable, so StrictMode's mount, unmount,
// mount in development works).
import { createElement, useEffect, useRef } from "react";
import init, { Livecheck } from "@livecheck/sdk";

export function LivecheckCapture({
  link, language, locale, redirect = false, lightOptOut = false, faceTimeoutMs,
  onPrompt, onProgress, onResult, onError, className, style,
}) {
  const container = useRef(null);
  // The latest callbacks, without mounting again when they change.
  const handlers = useRef({});
  handlers.current = { onPrompt, onProgress, onResult, onError, locale };
  useEffect(() => {
    if (!link) return undefined;
    let capture = null;
    let gone = false;
    init().then(() => {
      if (gone) return;
      capture = Livecheck.mount({
        link,
        container: container.current,
        language,
        locale: handlers.current.locale,
        redirect,
        lightOptOut,
        faceTimeoutMs,
        onPrompt: (p) => handlers.current.onPrompt?.(p),
        onProgress: (p) => handlers.current.onProgress?.(p),
      });
      capture.result.then(
        (r) => { if (!gone) handlers.current.onResult?.(r); },
        (e) => { if (!gone) handlers.current.onError?.(e); },
      );
    });
    return () => {
      gone = true;
      capture?.destroy();
    };
  }, [link, language, redirect, lightOptOut, faceTimeoutMs]);
  return createElement("div", { ref: container, className, style });
}
