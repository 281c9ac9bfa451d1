//! Risk signals reported with a result: what the SDK said of its camera (a label,
//! settings and its own frame timing, all from the client, so they inform and never
//! decide) and what the verifier measured itself of the frames' timing.

use livecheck_core::timeline::FrameClock;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Camera names of virtual cameras and phone-as-webcam tools, matched in the label
/// without regard to case. Chromium's test device is `fake_device_0`.
const VIRTUAL_CAMERAS: &[&str] = &[
    "obs virtual",
    "obs-camera",
    "manycam",
    "snap camera",
    "xsplit",
    "e2esoft",
    "vcam",
    "camtwist",
    "mmhmm",
    "nvidia broadcast",
    "droidcam",
    "ivcam",
    "epoccam",
    "iriun",
    "camo",
    "virtual",
    "fake",
    "dummy",
];

/// What the SDK reports of its camera with the finish call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraReport {
    /// The track's label (`MediaStreamTrack.label`).
    pub label: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub frame_rate: Option<f32>,
    pub facing_mode: Option<String>,
}

/// The SDK's own view of its frame timing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientTiming {
    /// Frames the SDK analysed during the capture.
    pub frames_analysed: Option<u32>,
    /// Median and 90th percentile of the time between analysed frames, ms.
    pub median_interval_ms: Option<f32>,
    pub p90_interval_ms: Option<f32>,
}

/// The optional body of `POST /capture/{link}/finish`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishIn {
    pub camera: Option<CameraReport>,
    pub timing: Option<ClientTiming>,
}

/// The frames' timing on the verifier's clock.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServerTiming {
    pub frames: usize,
    /// Time from each frame's capture (its claimed time) to its arrival, ms: median and largest.
    pub median_lag_ms: u64,
    pub max_lag_ms: u64,
    /// Frames received per second of capture.
    pub frames_per_second: f32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RiskSignals {
    /// As reported by the SDK.
    pub camera: Option<CameraReport>,
    /// The known virtual camera the label names, if any.
    pub virtual_camera: Option<String>,
    /// As reported by the SDK.
    pub client_timing: Option<ClientTiming>,
    pub server_timing: ServerTiming,
}

const MAX_TEXT: usize = 200;

fn clip(s: Option<String>) -> Option<String> {
    s.map(|s| s.chars().take(MAX_TEXT).collect())
}

impl RiskSignals {
    pub fn new(report: FinishIn, frames: &[FrameClock]) -> Self {
        let camera = report.camera.map(|c| CameraReport {
            label: clip(c.label),
            facing_mode: clip(c.facing_mode),
            ..c
        });
        let virtual_camera = camera
            .as_ref()
            .and_then(|c| c.label.as_deref())
            .and_then(virtual_camera);
        Self {
            camera,
            virtual_camera,
            client_timing: report.timing,
            server_timing: server_timing(frames),
        }
    }
}

/// The known virtual camera `label` names. Also `unlabelled` for no name at all (a
/// camera the browser opened after permission always has one), `file` for a video
/// file played as a camera (Chromium's test device names the file), and `synthetic` for
/// a random id in place of a name (a canvas or other generated stream's track).
pub fn virtual_camera(label: &str) -> Option<String> {
    let label = label.trim();
    if label.is_empty() {
        return Some("unlabelled".into());
    }
    let lower = label.to_lowercase();
    // An id first: a base64 id may begin with '/', and is not a path.
    let id_like = |c: char| c.is_ascii_alphanumeric() || "+/=-_{}".contains(c);
    if label.len() >= 32 && label.chars().all(id_like) {
        return Some("synthetic".into());
    }
    if [".y4m", ".mjpeg", ".mjpg", ".mp4"]
        .iter()
        .any(|ext| lower.ends_with(ext))
        || label.starts_with('/')
    {
        return Some("file".into());
    }
    VIRTUAL_CAMERAS
        .iter()
        .find(|v| lower.contains(*v))
        .map(|v| v.to_string())
}

fn server_timing(frames: &[FrameClock]) -> ServerTiming {
    let mut lags: Vec<u64> = frames
        .iter()
        .map(|f| f.received_ms.saturating_sub(f.t_ms))
        .collect();
    lags.sort_unstable();
    let span = match (frames.first(), frames.last()) {
        (Some(a), Some(b)) if b.t_ms > a.t_ms => (b.t_ms - a.t_ms) as f32 / 1000.0,
        _ => 0.0,
    };
    ServerTiming {
        frames: frames.len(),
        median_lag_ms: lags.get(lags.len() / 2).copied().unwrap_or(0),
        max_lag_ms: lags.last().copied().unwrap_or(0),
        frames_per_second: if span > 0.0 {
            (frames.len() - 1) as f32 / span
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_virtual_cameras_are_named_and_real_ones_are_not() {
        assert_eq!(
            virtual_camera("OBS Virtual Camera").as_deref(),
            Some("obs virtual")
        );
        assert_eq!(virtual_camera("fake_device_0").as_deref(), Some("fake"));
        assert_eq!(
            virtual_camera("ManyCam Video Source").as_deref(),
            Some("manycam")
        );
        assert_eq!(virtual_camera("").as_deref(), Some("unlabelled"));
        assert_eq!(
            virtual_camera("/work/shared/testdata/video/clip.mjpeg").as_deref(),
            Some("file")
        );
        assert_eq!(
            virtual_camera("2FXjdUDnX1Nxxb350XcH7b9yuWl65QyxPbxkhxSbDl2KC++R/ua/O0jLazzX+S/A5MRrP54dfaSfs/XCxbK6IQ==").as_deref(),
            Some("synthetic")
        );
        // One in 64 such ids begins with '/' (seen once in CI: it read as a file).
        assert_eq!(
            virtual_camera("/ua/O0jLazzX+S/A5MRrP54dfaSfs/XCxbK6IQ==2FXjdUDnX1Nxxb350").as_deref(),
            Some("synthetic")
        );
        assert_eq!(virtual_camera("/dev/video0").as_deref(), Some("file"));
        assert_eq!(virtual_camera("FaceTime HD Camera (Built-in)"), None);
        assert_eq!(virtual_camera("Integrated Webcam (0bda:58f4)"), None);
    }

    #[test]
    fn server_timing_reads_lag_and_rate() {
        let frames: Vec<FrameClock> = (0..11)
            .map(|i| FrameClock {
                t_ms: i * 100,
                received_ms: i * 100 + 40 + (i % 3) * 10,
            })
            .collect();
        let t = server_timing(&frames);
        assert_eq!((t.frames, t.median_lag_ms, t.max_lag_ms), (11, 50, 60));
        assert!((t.frames_per_second - 10.0).abs() < 0.01);
    }
}
