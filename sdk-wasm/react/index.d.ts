import type { CSSProperties, ReactElement } from "react";
import type { GuidanceCode, LabelCode, LivecheckError, LivecheckResult, ProgressEvent, PromptEvent } from "@livecheck/sdk";

export interface LivecheckCaptureProps {
  /** The capture link the verifier returned; the check mounts when it is set. */
  link: string | null | undefined;
  /** A built-in language (BCP 47 tag); default: the browser's. */
  language?: string;
  locale?: Partial<Record<GuidanceCode | LabelCode, string>>;
  redirect?: boolean;
  lightOptOut?: boolean;
  faceTimeoutMs?: number;
  onPrompt?: (prompt: PromptEvent) => void;
  onProgress?: (progress: ProgressEvent) => void;
  onResult?: (result: LivecheckResult) => void;
  onError?: (error: LivecheckError) => void;
  className?: string;
  style?: CSSProperties;
}

/** One check in a React tree: mounted with the component, destroyed (camera off) when it unmounts. */
export declare function LivecheckCapture(props: LivecheckCaptureProps): ReactElement;
