//! What the user is told, as stable codes an integrator can branch on, each with a
//! default English text that a locale table (`{code: text}`) can replace.

use std::collections::HashMap;

use livecheck_core::decision::FailureReason;
use livecheck_core::quality::QualityIssue;
use livecheck_core::ChallengeKind;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Guidance {
    Loading,
    CameraStarting,
    FaceNotFound,
    MultipleFaces,
    MoveCloser,
    MoveBack,
    CentreFace,
    FaceOutOfFrame,
    TooDark,
    TooBright,
    /// The camera gives no colour (monochrome or infrared).
    ColourCamera,
    /// The camera's picture has stopped changing (paused, frozen, or a still image).
    CameraFrozen,
    HoldSteady,
    LookStraight,
    /// The light challenge's colours are showing.
    Light,
    Blink,
    TurnLeft,
    TurnRight,
    LookUp,
    Smile,
    OpenMouth,
    Checking,
    Passed,
    NotPassed,
    /// An attempt was refused for something the user can put right; another is offered.
    RetryChallengeMissed,
    RetryFaceNotSeen,
    RetryMultipleFaces,
    RetryUnsuitableCamera,
    Cancelled,
    Error,
}

impl Guidance {
    pub const ALL: [Guidance; 30] = [
        Self::Loading,
        Self::CameraStarting,
        Self::FaceNotFound,
        Self::MultipleFaces,
        Self::MoveCloser,
        Self::MoveBack,
        Self::CentreFace,
        Self::FaceOutOfFrame,
        Self::TooDark,
        Self::TooBright,
        Self::ColourCamera,
        Self::CameraFrozen,
        Self::HoldSteady,
        Self::LookStraight,
        Self::Light,
        Self::Blink,
        Self::TurnLeft,
        Self::TurnRight,
        Self::LookUp,
        Self::Smile,
        Self::OpenMouth,
        Self::Checking,
        Self::Passed,
        Self::NotPassed,
        Self::RetryChallengeMissed,
        Self::RetryFaceNotSeen,
        Self::RetryMultipleFaces,
        Self::RetryUnsuitableCamera,
        Self::Cancelled,
        Self::Error,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::CameraStarting => "camera_starting",
            Self::FaceNotFound => "face_not_found",
            Self::MultipleFaces => "multiple_faces",
            Self::MoveCloser => "move_closer",
            Self::MoveBack => "move_back",
            Self::CentreFace => "centre_face",
            Self::FaceOutOfFrame => "face_out_of_frame",
            Self::TooDark => "too_dark",
            Self::TooBright => "too_bright",
            Self::ColourCamera => "colour_camera",
            Self::CameraFrozen => "camera_frozen",
            Self::HoldSteady => "hold_steady",
            Self::LookStraight => "look_straight",
            Self::Light => "light",
            Self::Blink => "blink",
            Self::TurnLeft => "turn_left",
            Self::TurnRight => "turn_right",
            Self::LookUp => "look_up",
            Self::Smile => "smile",
            Self::OpenMouth => "open_mouth",
            Self::Checking => "checking",
            Self::Passed => "passed",
            Self::NotPassed => "not_passed",
            Self::RetryChallengeMissed => "retry_challenge_missed",
            Self::RetryFaceNotSeen => "retry_face_not_seen",
            Self::RetryMultipleFaces => "retry_multiple_faces",
            Self::RetryUnsuitableCamera => "retry_unsuitable_camera",
            Self::Cancelled => "cancelled",
            Self::Error => "error",
        }
    }

    /// Default English. Directions are the user's own: the preview is a mirror.
    pub fn english(self) -> &'static str {
        match self {
            Self::Loading => "Getting ready…",
            Self::CameraStarting => "Starting the camera…",
            Self::FaceNotFound => "We can't see a face. Look at the camera.",
            Self::MultipleFaces => "Only one person should be in view.",
            Self::MoveCloser => "Move a little closer.",
            Self::MoveBack => "Move a little further away.",
            Self::CentreFace => "Centre your face in the frame.",
            Self::FaceOutOfFrame => "Keep your whole face in the frame.",
            Self::TooDark => "It's too dark. Find more light.",
            Self::TooBright => "It's too bright. Avoid direct light behind or on you.",
            Self::ColourCamera => "This camera shows no colour. Use a colour camera.",
            Self::CameraFrozen => {
                "The camera's picture is not changing. Check that it is not paused or covered."
            }
            Self::HoldSteady => "Hold still, looking at the camera.",
            Self::LookStraight => "Look straight at the camera with a relaxed face.",
            Self::Light => "Hold still while the screen changes colour.",
            Self::Blink => "Blink your eyes.",
            Self::TurnLeft => "Turn your head to your left, then back.",
            Self::TurnRight => "Turn your head to your right, then back.",
            Self::LookUp => "Look up, then back.",
            Self::Smile => "Smile, then relax.",
            Self::OpenMouth => "Open your mouth, then close it.",
            Self::Checking => "Checking…",
            Self::Passed => "Done. Thank you.",
            Self::NotPassed => "We could not confirm a live person.",
            Self::RetryChallengeMissed => {
                "We did not see one of the actions in time. Try again: do each action as soon as it is asked."
            }
            Self::RetryFaceNotSeen => {
                "We could not see your face clearly all the time. Try again, facing the camera in good light."
            }
            Self::RetryMultipleFaces => {
                "Someone else was in view. Try again with only your face in the picture."
            }
            Self::RetryUnsuitableCamera => {
                "We could not judge the picture. Try again in brighter light, closer to the camera, with a colour camera."
            }
            Self::Cancelled => "Cancelled.",
            Self::Error => "Something went wrong.",
        }
    }

    /// The prompt for a challenge.
    pub fn for_challenge(kind: ChallengeKind) -> Self {
        match kind {
            ChallengeKind::Blink => Self::Blink,
            ChallengeKind::TurnLeft => Self::TurnLeft,
            ChallengeKind::TurnRight => Self::TurnRight,
            ChallengeKind::LookUp => Self::LookUp,
            ChallengeKind::Smile => Self::Smile,
            ChallengeKind::OpenMouth => Self::OpenMouth,
        }
    }

    /// What to tell a user offered another attempt, from the verifier's reason (only
    /// reasons the user can put right come with an offer).
    pub fn for_retry(failure_reason: Option<FailureReason>) -> Self {
        match failure_reason {
            Some(FailureReason::ChallengeFailed) => Self::RetryChallengeMissed,
            Some(FailureReason::MultipleFaces) => Self::RetryMultipleFaces,
            Some(FailureReason::UnsuitableCapture) => Self::RetryUnsuitableCamera,
            _ => Self::RetryFaceNotSeen,
        }
    }

    /// Whether this is a challenge's prompt.
    pub fn is_challenge(self) -> bool {
        ChallengeKind::ALL
            .iter()
            .any(|&k| Self::for_challenge(k) == self)
    }

    /// What to tell the user about a frame-quality problem.
    pub fn for_issue(issue: QualityIssue) -> Self {
        match issue {
            QualityIssue::NoFace => Self::FaceNotFound,
            QualityIssue::MultipleFaces => Self::MultipleFaces,
            QualityIssue::FaceTooSmall => Self::MoveCloser,
            QualityIssue::FaceTooLarge => Self::MoveBack,
            QualityIssue::OffCentre => Self::CentreFace,
            QualityIssue::PartlyOutOfFrame => Self::FaceOutOfFrame,
            QualityIssue::TooDark => Self::TooDark,
            QualityIssue::TooBright => Self::TooBright,
            QualityIssue::Blurred => Self::HoldSteady,
            QualityIssue::Greyscale => Self::ColourCamera,
        }
    }
}

/// The SDK's other words: buttons and the progress bar's steps. `{n}` and `{total}`
/// are filled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    Cancel,
    Back,
    TryAgain,
    Continue,
    Progress,
    StepLoading,
    StepPositioning,
    StepChallenge,
    StepLooking,
    StepChecking,
    StepRetry,
    StepDone,
}

impl Label {
    pub const ALL: [Label; 12] = [
        Self::Cancel,
        Self::Back,
        Self::TryAgain,
        Self::Continue,
        Self::Progress,
        Self::StepLoading,
        Self::StepPositioning,
        Self::StepChallenge,
        Self::StepLooking,
        Self::StepChecking,
        Self::StepRetry,
        Self::StepDone,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Cancel => "button_cancel",
            Self::Back => "button_back",
            Self::TryAgain => "button_try_again",
            Self::Continue => "button_continue",
            Self::Progress => "progress_label",
            Self::StepLoading => "step_loading",
            Self::StepPositioning => "step_positioning",
            Self::StepChallenge => "step_challenge",
            Self::StepLooking => "step_looking",
            Self::StepChecking => "step_checking",
            Self::StepRetry => "step_retry",
            Self::StepDone => "step_done",
        }
    }

    pub fn english(self) -> &'static str {
        match self {
            Self::Cancel => "Cancel",
            Self::Back => "Back",
            Self::TryAgain => "Try again",
            Self::Continue => "Continue",
            Self::Progress => "Progress",
            Self::StepLoading => "Getting ready",
            Self::StepPositioning => "Positioning your face",
            Self::StepChallenge => "Challenge {n} of {total}",
            Self::StepLooking => "Looking at the camera",
            Self::StepChecking => "Checking",
            Self::StepRetry => "Ready for attempt {n} of {total}",
            Self::StepDone => "Done",
        }
    }
}

/// The built-in tables besides English (`locales/<language>.json`, `{code: text}` for
/// every guidance code and label), by ISO 639-1 language.
const BUILT_IN: [(&str, &str); 7] = [
    ("ar", include_str!("../locales/ar.json")),
    ("de", include_str!("../locales/de.json")),
    ("es", include_str!("../locales/es.json")),
    ("fr", include_str!("../locales/fr.json")),
    ("id", include_str!("../locales/id.json")),
    ("ja", include_str!("../locales/ja.json")),
    ("pt", include_str!("../locales/pt.json")),
];

/// Languages written right to left.
const RTL: [&str; 1] = ["ar"];

/// The built-in languages, English first.
pub fn languages() -> impl Iterator<Item = &'static str> {
    std::iter::once("en").chain(BUILT_IN.iter().map(|(l, _)| *l))
}

/// Texts by code: the integrator's, then the language's built-in table, then English.
#[derive(Clone, Debug)]
pub struct Locale {
    language: &'static str,
    texts: HashMap<String, String>,
}

impl Default for Locale {
    fn default() -> Self {
        Self::new(HashMap::new())
    }
}

impl Locale {
    /// English, with `texts` replacing any of it.
    pub fn new(texts: HashMap<String, String>) -> Self {
        Self {
            language: "en",
            texts,
        }
    }

    /// The first of `preferred` (BCP 47 tags, most wanted first: `pt-BR`, `fr`) that is
    /// built in, else English; `texts` replace any of its texts.
    pub fn pick<'a>(
        preferred: impl IntoIterator<Item = &'a str>,
        overrides: HashMap<String, String>,
    ) -> Self {
        let found = preferred.into_iter().find_map(|tag| {
            let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
            languages().find(|l| *l == primary)
        });
        let language = found.unwrap_or("en");
        let mut texts: HashMap<String, String> = BUILT_IN
            .iter()
            .find(|(l, _)| *l == language)
            .and_then(|(_, json)| serde_json::from_str(json).ok())
            .unwrap_or_default();
        texts.extend(overrides);
        Self { language, texts }
    }

    /// The language the texts are in (`en` when nothing built in matched).
    pub fn language(&self) -> &'static str {
        self.language
    }

    /// `rtl` or `ltr`.
    pub fn direction(&self) -> &'static str {
        if RTL.contains(&self.language) {
            "rtl"
        } else {
            "ltr"
        }
    }

    pub fn text(&self, g: Guidance) -> &str {
        self.texts
            .get(g.code())
            .map(String::as_str)
            .unwrap_or_else(|| g.english())
    }

    /// A label as written, `{n}` and `{total}` unfilled.
    pub fn template(&self, l: Label) -> &str {
        self.texts
            .get(l.code())
            .map(String::as_str)
            .unwrap_or_else(|| l.english())
    }

    /// A label with `{n}` and `{total}` filled in.
    pub fn label(&self, l: Label, n: usize, total: usize) -> String {
        self.template(l)
            .replace("{n}", &n.to_string())
            .replace("{total}", &total.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_every_code_has_english() {
        let mut codes: Vec<&str> = Guidance::ALL.iter().map(|g| g.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Guidance::ALL.len());
        assert!(Guidance::ALL.iter().all(|g| !g.english().is_empty()));
    }

    #[test]
    fn the_typescript_union_and_the_readme_list_every_code() {
        let ts = include_str!("browser/mod.rs");
        let union = ts
            .split("export type GuidanceCode =")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .unwrap();
        let mut listed: Vec<&str> = union.split('"').skip(1).step_by(2).collect();
        let mut codes: Vec<&str> = Guidance::ALL.iter().map(|g| g.code()).collect();
        listed.sort_unstable();
        codes.sort_unstable();
        assert_eq!(listed, codes);
        let readme = include_str!("../../README.md");
        for code in codes {
            assert!(readme.contains(&format!("`{code}`")), "README lacks {code}");
        }
    }

    #[test]
    fn every_built_in_table_has_every_text_with_its_placeholders() {
        let codes: Vec<&str> = Guidance::ALL
            .iter()
            .map(|g| g.code())
            .chain(Label::ALL.iter().map(|l| l.code()))
            .collect();
        let placeholders = |s: &str| {
            ["{n}", "{total}"]
                .into_iter()
                .filter(|p| s.contains(p))
                .collect::<Vec<_>>()
        };
        for (language, json) in BUILT_IN {
            let table: HashMap<String, String> = serde_json::from_str(json).unwrap();
            let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
            let mut want = codes.clone();
            keys.sort_unstable();
            want.sort_unstable();
            assert_eq!(keys, want, "{language}: keys");
            for g in Guidance::ALL {
                let text = &table[g.code()];
                assert!(!text.trim().is_empty(), "{language}: {}", g.code());
                assert_ne!(text, g.english(), "{language}: {} untranslated", g.code());
            }
            for l in Label::ALL {
                let text = &table[l.code()];
                assert_eq!(
                    placeholders(text),
                    placeholders(l.english()),
                    "{language}: {}",
                    l.code()
                );
            }
        }
    }

    #[test]
    fn a_language_is_picked_by_its_primary_tag_and_overrides_still_win() {
        let l = Locale::pick(["xx-YY", "pt-BR", "fr"], HashMap::new());
        assert_eq!((l.language(), l.direction()), ("pt", "ltr"));
        assert_eq!(l.label(Label::StepChallenge, 2, 3), "Desafio 2 de 3");
        let ar = Locale::pick(["ar-EG"], HashMap::from([("blink".into(), "X".into())]));
        assert_eq!((ar.language(), ar.direction()), ("ar", "rtl"));
        assert_eq!(ar.text(Guidance::Blink), "X");
        assert_ne!(ar.text(Guidance::Smile), Guidance::Smile.english());
        let none = Locale::pick(["xx"], HashMap::new());
        assert_eq!(
            (none.language(), none.text(Guidance::Smile)),
            ("en", "Smile, then relax.")
        );
    }

    #[test]
    fn a_locale_overrides_some_texts_and_falls_back_to_english() {
        let l = Locale::new(HashMap::from([(
            "blink".to_string(),
            "Clignez des yeux.".to_string(),
        )]));
        assert_eq!(l.text(Guidance::Blink), "Clignez des yeux.");
        assert_eq!(l.text(Guidance::Smile), "Smile, then relax.");
    }

    #[test]
    fn no_face_is_reported_as_face_not_found() {
        assert_eq!(
            Guidance::for_issue(QualityIssue::NoFace).code(),
            "face_not_found"
        );
    }
}
