//! The SDK's own DOM inside the integrator's container: the mirrored preview, the
//! prompt in a polite ARIA live region, progress, and real buttons (keyboard usable).
//! No flashing; the only transition (the frame's colour) is off under
//! `prefers-reduced-motion`. The light challenge paints the page around the preview in
//! the colours the verifier reveals (at most two changes a second, no saturated red).

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlButtonElement, HtmlElement, HtmlVideoElement};

use crate::error::{js_message, Code, SdkError, SdkResult};
use crate::guidance::{Guidance, Label, Locale};

/// Themed through custom properties set on the container or any ancestor: `--lc-font`,
/// `--lc-text`, `--lc-radius`, `--lc-neutral` (the frame at rest), `--lc-ok`, `--lc-warn`,
/// `--lc-accent` (buttons and the focus ring) and `--lc-on-accent` (button text).
const CSS: &str = "\
.lc-root{font:16px/1.4 var(--lc-font,system-ui,sans-serif);max-width:640px;margin:0 auto;\
color:var(--lc-text,#1a1a1a);position:relative}\
.lc-root [hidden]{display:none!important}\
.lc-light{position:fixed;inset:0;z-index:2147483000;pointer-events:none;transition:background-color .1s linear}\
.lc-root[data-light] .lc-stage,.lc-root[data-light] .lc-prompt{position:relative;z-index:2147483001}\
.lc-root[data-light] .lc-prompt{background:#fff;border-radius:8px;padding:.25em .5em}\
.lc-stage{position:relative;aspect-ratio:4/3;background:#222;border-radius:var(--lc-radius,12px);overflow:hidden;\
border:4px solid var(--lc-neutral,#888);transition:border-color .6s ease}\
.lc-root[data-state=ok] .lc-stage{border-color:var(--lc-ok,#1b7f3b)}\
.lc-root[data-state=warn] .lc-stage{border-color:var(--lc-warn,#b35c00);border-style:dashed}\
.lc-badge{position:absolute;top:.4em;inset-inline-end:.4em;min-width:1.6em;padding:0 .3em;border-radius:.8em;\
font-weight:700;text-align:center;color:#fff;display:none}\
.lc-root[data-state=ok] .lc-badge{display:block;background:var(--lc-ok,#1b7f3b)}\
.lc-root[data-state=ok] .lc-badge::after{content:\"\\2713\"}\
.lc-root[data-state=warn] .lc-badge{display:block;background:var(--lc-warn,#b35c00)}\
.lc-root[data-state=warn] .lc-badge::after{content:\"!\"}\
.lc-video{width:100%;height:100%;object-fit:cover;transform:scaleX(-1)}\
.lc-oval{position:absolute;inset:12% 28%;border:3px dashed rgba(255,255,255,.7);border-radius:50%}\
.lc-prompt{font-size:1.25rem;font-weight:600;min-height:2.8em;margin:.75em 0 .25em}\
.lc-progress{width:100%;height:.6em;accent-color:var(--lc-accent,#0b57d0)}\
.lc-actions{margin-top:.75em;display:flex;gap:.75em}\
.lc-actions button,.lc-actions a{font:inherit;padding:.5em 1.2em;border-radius:calc(var(--lc-radius,12px) * 2 / 3);\
background:var(--lc-accent,#0b57d0);color:var(--lc-on-accent,#fff);border:1px solid var(--lc-accent,#0b57d0);\
cursor:pointer;text-decoration:none}\
.lc-actions :focus-visible{outline:3px solid var(--lc-accent,#0b57d0);outline-offset:2px}\
@media (prefers-reduced-motion:reduce){.lc-stage{transition:none}}";

pub struct Ui {
    root: HtmlElement,
    light: HtmlElement,
    video: HtmlVideoElement,
    prompt: Element,
    progress: Element,
    cancel: HtmlButtonElement,
    again: HtmlButtonElement,
    next: HtmlElement,
    locale: Locale,
    shown: Cell<Option<Guidance>>,
    /// Set when the user presses Try again.
    retry: Rc<Cell<bool>>,
    _on_cancel: Closure<dyn FnMut()>,
    _on_again: Closure<dyn FnMut()>,
}

fn el(doc: &Document, tag: &str, class: &str) -> SdkResult<Element> {
    let e = doc
        .create_element(tag)
        .map_err(|e| SdkError::new(Code::Internal, js_message(&e)))?;
    e.set_class_name(class);
    Ok(e)
}

impl Ui {
    /// Builds the UI in `container`; `cancelled` is set when the user presses Cancel.
    pub fn mount(
        container: &Element,
        locale: Locale,
        cancelled: Rc<Cell<bool>>,
    ) -> SdkResult<Self> {
        let doc = web_sys::window()
            .and_then(|w| w.document())
            .ok_or_else(|| SdkError::new(Code::UnsupportedBrowser, "no document"))?;
        let root: HtmlElement = el(&doc, "div", "lc-root")?.unchecked_into();
        // The texts' language and direction (Arabic reads right to left; the preview
        // stays a mirror, and "your left" is still the user's own).
        let _ = root.set_attribute("lang", locale.language());
        let _ = root.set_attribute("dir", locale.direction());
        let style = el(&doc, "style", "")?;
        style.set_text_content(Some(CSS));
        let stage = el(&doc, "div", "lc-stage")?;
        let video: HtmlVideoElement = el(&doc, "video", "lc-video")?.unchecked_into();
        let _ = video.set_attribute("aria-hidden", "true");
        let oval = el(&doc, "div", "lc-oval")?;
        let _ = oval.set_attribute("aria-hidden", "true");
        // The frame's state in shape as well as colour (a tick or "!", and a dashed
        // border when something needs fixing): green and orange alone are 1.07:1.
        let badge = el(&doc, "span", "lc-badge")?;
        let _ = badge.set_attribute("aria-hidden", "true");
        let prompt = el(&doc, "p", "lc-prompt")?;
        let _ = prompt.set_attribute("role", "status");
        let _ = prompt.set_attribute("aria-live", "polite");
        let _ = prompt.set_attribute("aria-atomic", "true");
        let progress = el(&doc, "progress", "lc-progress")?;
        let _ = progress.set_attribute("max", "1");
        let _ = progress.set_attribute("value", "0");
        let _ = progress.set_attribute("aria-label", &locale.label(Label::Progress, 0, 0));
        let light: HtmlElement = el(&doc, "div", "lc-light")?.unchecked_into();
        let _ = light.set_attribute("aria-hidden", "true");
        light.set_hidden(true);
        let actions = el(&doc, "div", "lc-actions")?;
        let cancel: HtmlButtonElement = el(&doc, "button", "lc-cancel")?.unchecked_into();
        cancel.set_type("button");
        cancel.set_text_content(Some(&locale.label(Label::Cancel, 0, 0)));
        let again: HtmlButtonElement = el(&doc, "button", "lc-again")?.unchecked_into();
        again.set_type("button");
        again.set_hidden(true);
        again.set_text_content(Some(&locale.label(Label::TryAgain, 0, 0)));
        let retry = Rc::new(Cell::new(false));
        let pressed = retry.clone();
        let on_again = Closure::<dyn FnMut()>::new(move || pressed.set(true));
        again.set_onclick(Some(on_again.as_ref().unchecked_ref()));
        let next: HtmlElement = el(&doc, "a", "lc-continue")?.unchecked_into();
        next.set_hidden(true);
        next.set_text_content(Some(&locale.label(Label::Continue, 0, 0)));

        let on_cancel = Closure::<dyn FnMut()>::new(move || cancelled.set(true));
        cancel.set_onclick(Some(on_cancel.as_ref().unchecked_ref()));

        let append = |parent: &Element, child: &Element| {
            parent
                .append_child(child)
                .map(|_| ())
                .map_err(|e| SdkError::new(Code::Internal, js_message(&e)))
        };
        append(&stage, &video)?;
        append(&stage, &oval)?;
        append(&stage, &badge)?;
        append(&actions, &again)?;
        append(&actions, &cancel)?;
        append(&actions, &next)?;
        for child in [&style, &light, &stage, &prompt, &progress, &actions] {
            append(&root, child)?;
        }
        append(container, &root)?;
        Ok(Self {
            root,
            light,
            video,
            prompt,
            progress,
            cancel,
            again,
            next,
            locale,
            shown: Cell::new(None),
            retry,
            _on_cancel: on_cancel,
            _on_again: on_again,
        })
    }

    pub fn video(&self) -> &HtmlVideoElement {
        &self.video
    }

    pub fn root(&self) -> &HtmlElement {
        &self.root
    }

    pub fn text(&self, g: Guidance) -> String {
        self.locale.text(g).to_string()
    }

    pub fn label(&self, l: Label, n: usize, total: usize) -> String {
        self.locale.label(l, n, total)
    }

    /// Shows `g` if it is not already shown; returns whether it changed.
    pub fn show(&self, g: Guidance) -> bool {
        if self.shown.replace(Some(g)) == Some(g) {
            return false;
        }
        self.prompt.set_text_content(Some(self.locale.text(g)));
        let _ = self.root.set_attribute("data-guidance", g.code());
        true
    }

    /// `ok`, `warn` or `idle`: the frame's colour (never flashing: it changes only with the guidance).
    pub fn state(&self, state: &str) {
        let _ = self.root.set_attribute("data-state", state);
    }

    /// Paints the light challenge's colour around the preview, or takes it away.
    pub fn light(&self, colour: Option<[u8; 3]>) {
        match colour {
            Some([r, g, b]) => {
                let _ = self
                    .light
                    .style()
                    .set_property("background-color", &format!("rgb({r},{g},{b})"));
                let _ = self
                    .root
                    .set_attribute("data-light", &format!("{r},{g},{b}"));
                self.light.set_hidden(false);
            }
            None => {
                self.light.set_hidden(true);
                let _ = self.root.remove_attribute("data-light");
            }
        }
    }

    /// The bar's position, and in words where the user is ("Challenge 2 of 3"), which
    /// is what a screen reader announces for it.
    pub fn progress(&self, fraction: f64, step: &str) {
        let _ = self
            .progress
            .set_attribute("value", &format!("{:.3}", fraction.clamp(0.0, 1.0)));
        let _ = self.progress.set_attribute("aria-valuetext", step);
    }

    pub fn set_cancel_visible(&self, visible: bool, label: Label) {
        self.cancel.set_hidden(!visible);
        self.cancel
            .set_text_content(Some(&self.locale.label(label, 0, 0)));
    }

    /// Another attempt is offered: the Try again button, focused.
    pub fn offer_retry(&self) {
        self.retry.set(false);
        self.again.set_hidden(false);
        let _ = self.again.focus();
    }

    /// Whether Try again was pressed (the button goes once it is).
    pub fn take_retry(&self) -> bool {
        let pressed = self.retry.replace(false);
        if pressed {
            self.again.set_hidden(true);
        }
        pressed
    }

    /// The way on after a result: a link the user follows (focused, for keyboards).
    pub fn offer_continue(&self, url: &str) {
        let _ = self.next.set_attribute("href", url);
        self.next.set_hidden(false);
        self.cancel.set_hidden(true);
        let _ = self.next.focus();
    }

    pub fn finished(&self) {
        self.light(None);
        self.cancel.set_hidden(true);
        let _ = self.root.set_attribute("data-finished", "true");
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        self.cancel.set_onclick(None);
        self.again.set_onclick(None);
    }
}

/// Takes the SDK's UI out of the page at once, the camera with it (`destroy()`).
pub fn unmount(root: &HtmlElement, video: &HtmlVideoElement) {
    if let Some(stream) = video
        .src_object()
        .and_then(|s| s.dyn_into::<web_sys::MediaStream>().ok())
    {
        for track in stream.get_tracks().iter() {
            if let Ok(t) = track.dyn_into::<web_sys::MediaStreamTrack>() {
                t.stop();
            }
        }
    }
    video.set_src_object(None);
    root.remove();
}

/// The container from the options: an element, a CSS selector, or a new `<div>` at the
/// end of the body.
pub fn container(value: &JsValue) -> SdkResult<Element> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| SdkError::new(Code::UnsupportedBrowser, "no document"))?;
    if let Some(e) = value.dyn_ref::<Element>() {
        return Ok(e.clone());
    }
    if let Some(sel) = value.as_string() {
        return doc
            .query_selector(&sel)
            .ok()
            .flatten()
            .ok_or_else(|| SdkError::new(Code::Internal, format!("no element matches {sel:?}")));
    }
    let div = el(&doc, "div", "")?;
    doc.body()
        .ok_or_else(|| SdkError::new(Code::UnsupportedBrowser, "no body"))?
        .append_child(&div)
        .map_err(|e| SdkError::new(Code::Internal, js_message(&e)))?;
    Ok(div)
}
