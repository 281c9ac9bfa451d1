//! The hosted pages' words in every built-in language (`verifier/locales/<language>.json`:
//! the same languages as the SDK's tables), picked from the check's `locale`, else the
//! browser's `Accept-Language`, else English. The `js_` texts are the capture page
//! script's, handed to it in the page.

use std::collections::HashMap;
use std::sync::OnceLock;

macro_rules! texts {
    ($($variant:ident = $code:literal,)*) => {
        /// A text of the hosted pages.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Text { $($variant,)* }

        impl Text {
            pub const ALL: &'static [Text] = &[$(Text::$variant,)*];

            pub fn code(self) -> &'static str {
                match self { $(Text::$variant => $code,)* }
            }
        }
    };
}

texts! {
    PageTitle = "page_title",
    NeedsJs = "needs_js",
    Start = "start",
    StartPlain = "start_plain",
    Back = "back",
    ReturnToService = "return_to_service",
    InvalidTitle = "invalid_title",
    NewLink = "new_link",
    BusyTitle = "busy_title",
    BusyText = "busy_text",
    ExpiredTitle = "expired_title",
    ExpiredText = "expired_text",
    UsedTitle = "used_title",
    UsedText = "used_text",
    CannotCancelTitle = "cannot_cancel_title",
    DoneTitle = "done_title",
    DoneText = "done_text",
    CancelledTitle = "cancelled_title",
    CancelledText = "cancelled_text",
    FinishedTitle = "finished_title",
    FinishedText = "finished_text",
    CloseWindow = "close_window",
    JsIntroActive = "js_intro_active",
    JsIntroPassive = "js_intro_passive",
    JsLightNotice = "js_light_notice",
    JsPermissionDenied = "js_permission_denied",
    JsNoCamera = "js_no_camera",
    JsCameraInUse = "js_camera_in_use",
    JsInsecureContext = "js_insecure_context",
    JsUnsupportedBrowser = "js_unsupported_browser",
    JsSessionExpired = "js_session_expired",
    JsLinkAlreadyUsed = "js_link_already_used",
    JsNetwork = "js_network",
    JsTimeout = "js_timeout",
    JsCameraFrozen = "js_camera_frozen",
    JsCancelled = "js_cancelled",
    JsOther = "js_other",
    JsTakingBack = "js_taking_back",
    JsReload = "js_reload",
}

const TABLES: [(&str, &str); 8] = [
    ("en", include_str!("../locales/en.json")),
    ("ar", include_str!("../locales/ar.json")),
    ("de", include_str!("../locales/de.json")),
    ("es", include_str!("../locales/es.json")),
    ("fr", include_str!("../locales/fr.json")),
    ("id", include_str!("../locales/id.json")),
    ("ja", include_str!("../locales/ja.json")),
    ("pt", include_str!("../locales/pt.json")),
];

/// One built-in language's texts.
#[derive(Debug)]
pub struct Language {
    /// ISO 639-1.
    pub tag: &'static str,
    texts: HashMap<String, String>,
}

impl Language {
    /// `rtl` for Arabic, else `ltr`.
    pub fn dir(&self) -> &'static str {
        if self.tag == "ar" {
            "rtl"
        } else {
            "ltr"
        }
    }

    /// The text in this language (English where a table lacks it; a test keeps every
    /// table complete).
    pub fn text(&self, t: Text) -> &str {
        self.texts
            .get(t.code())
            .or_else(|| english().texts.get(t.code()))
            .map(String::as_str)
            .unwrap_or(t.code())
    }

    /// The capture page script's texts, `{code: text}` without the `js_` prefix, as JSON.
    pub fn script_texts(&self) -> String {
        let map: HashMap<&str, &str> = Text::ALL
            .iter()
            .filter_map(|t| Some((t.code().strip_prefix("js_")?, self.text(*t))))
            .collect();
        serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
    }
}

fn all() -> &'static [Language] {
    static LANGUAGES: OnceLock<Vec<Language>> = OnceLock::new();
    LANGUAGES.get_or_init(|| {
        TABLES
            .iter()
            .map(|(tag, json)| Language {
                tag,
                texts: serde_json::from_str(json).unwrap_or_default(),
            })
            .collect()
    })
}

pub fn english() -> &'static Language {
    &all()[0]
}

/// The built-in language of a BCP 47 tag (`pt-BR` is Portuguese), if there is one.
pub fn by_tag(tag: &str) -> Option<&'static Language> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    all().iter().find(|l| l.tag == primary)
}

/// The built-in languages' tags, English first.
pub fn tags() -> impl Iterator<Item = &'static str> {
    all().iter().map(|l| l.tag)
}

/// The page's language: the check's `locale` when it has one, else the first built-in
/// language of `Accept-Language` by preference (`q`), else English.
pub fn pick(locale: Option<&str>, accept_language: Option<&str>) -> &'static Language {
    if let Some(l) = locale.and_then(by_tag) {
        return l;
    }
    let mut wanted: Vec<(&str, f32)> = accept_language
        .unwrap_or("")
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())?;
            (!tag.is_empty() && q > 0.0).then_some((tag, q))
        })
        .collect();
    // Stable: equal preferences keep the browser's order.
    wanted.sort_by(|a, b| b.1.total_cmp(&a.1));
    wanted
        .into_iter()
        .find_map(|(tag, _)| by_tag(tag))
        .unwrap_or_else(english)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_every_text_and_no_other() {
        let mut want: Vec<&str> = Text::ALL.iter().map(|t| t.code()).collect();
        want.sort_unstable();
        for l in all() {
            let mut keys: Vec<&str> = l.texts.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, want, "{}", l.tag);
            assert!(l.texts.values().all(|v| !v.trim().is_empty()), "{}", l.tag);
            assert!(l.text(Text::JsOther).contains("{code}"), "{}", l.tag);
            if l.tag != "en" {
                assert_ne!(
                    l.text(Text::Start),
                    english().text(Text::Start),
                    "{}",
                    l.tag
                );
            }
        }
        assert_eq!(all().len(), 8);
    }

    #[test]
    fn the_pages_and_the_sdk_have_the_same_languages() {
        // The page hands its language to the SDK: each must have the other's tables
        // (the SDK's English is its code's default, not a file).
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk-wasm/locales");
        let mut sdk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".json")
                    .map(String::from)
            })
            .collect();
        sdk.push("en".into());
        sdk.sort();
        let mut pages: Vec<String> = tags().map(String::from).collect();
        pages.sort();
        assert_eq!(pages, sdk);
    }

    #[test]
    fn the_check_locale_wins_then_accept_language_by_preference() {
        assert_eq!(pick(Some("ja"), Some("fr")).tag, "ja");
        assert_eq!(pick(Some("xx"), Some("fr-CH, fr;q=0.9")).tag, "fr");
        assert_eq!(pick(None, Some("xx, de;q=0.5, pt-BR;q=0.8")).tag, "pt");
        assert_eq!(pick(None, Some("ar;q=0, es;q=0.1")).tag, "es");
        assert_eq!(pick(None, Some("*")).tag, "en");
        assert_eq!(pick(None, None).tag, "en");
        assert_eq!(pick(None, Some("ar-EG")).dir(), "rtl");
    }
}
