//! Passive liveness signs on real media: a live face over a few seconds shows them; a
//! photo held up to the camera, moved and noisy, does not.

use livecheck_core::challenge::ChallengeRules;
use livecheck_core::engine::Observation;
use livecheck_core::live_signs::{live_signs, LiveSignLimits, LiveSigns};

use crate::helpers::{handheld_photo, image, observe_clip};

fn signs(name: &str, obs: &[Observation]) -> LiveSigns {
    let s = live_signs(obs, &ChallengeRules::default(), &LiveSignLimits::default());
    println!("{name}: {s:?}");
    s
}

fn first_ms(obs: Vec<Observation>, ms: u64) -> Vec<Observation> {
    obs.into_iter().filter(|o| o.t_ms < ms).collect()
}

#[test]
fn live_clips_show_signs_of_life() {
    let d18 = observe_clip("video/lp_d18_actions_640x480_30fps.mjpeg", 3, false);
    let s32 = observe_clip("video/lp_s32_turns_640x480_30fps.mjpeg", 3, false);
    let neutral = signs("d18 0-2 s (neutral)", &first_ms(d18.clone(), 2000));
    let acting = signs("d18 0-3.5 s", &first_ms(d18, 3500));
    let turning = signs("s32 0-3 s", &first_ms(s32, 3000));
    // Sitting still, no action: the face's own small movements are enough.
    assert!(neutral.present && neutral.events.is_empty(), "{neutral:?}");
    assert!(acting.present && turning.present);
}

#[test]
fn a_photo_held_up_to_the_camera_shows_none() {
    for file in [
        "live/silentface_T1_live_upright.jpg",
        "spoof/silentface_F1_print_upright.jpg",
        "live/skimage_astronaut.png",
    ] {
        let s = signs(file, &handheld_photo(&image(file), 3));
        assert!(!s.present, "{file}: {s:?}");
    }
}
