//! What the user is told, as stable codes an integrator can branch on, each with a
//! default English text that a locale table (`{code: text}`) can replace.

use std::collections::HashMap;

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
    Cancelled,
    Error,
}

impl Guidance {
    pub const ALL: [Guidance; 26] = [
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

/// Texts by code; anything the locale does not give falls back to English.
#[derive(Clone, Debug, Default)]
pub struct Locale {
    texts: HashMap<String, String>,
}

impl Locale {
    pub fn new(texts: HashMap<String, String>) -> Self {
        Self { texts }
    }

    pub fn text(&self, g: Guidance) -> &str {
        self.texts
            .get(g.code())
            .map(String::as_str)
            .unwrap_or_else(|| g.english())
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
