//! One liveness score for a capture from the anti-spoof probabilities of its frames.
//!
//! A trimmed mean: the highest and lowest 10 % of frames are dropped so a single
//! lucky or unlucky frame cannot decide, then the rest are averaged and scaled to
//! 0–100 (higher = more live).

/// Default pass mark for a capture's score.
pub const DEFAULT_THRESHOLD: f32 = 70.0;

pub fn aggregate_score(live_probabilities: &[f32]) -> Option<f32> {
    let mut p: Vec<f32> = live_probabilities
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if p.is_empty() {
        return None;
    }
    p.sort_by(f32::total_cmp);
    let cut = p.len() / 10;
    let kept = &p[cut..p.len() - cut];
    Some(100.0 * kept.iter().sum::<f32>() / kept.len() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_has_no_score() {
        assert_eq!(aggregate_score(&[]), None);
    }

    #[test]
    fn one_outlier_in_ten_is_trimmed() {
        let mut p = vec![0.1; 9];
        p.push(1.0);
        let s = aggregate_score(&p).unwrap();
        assert!((s - 10.0).abs() < 1e-3, "{s}");
    }
}
